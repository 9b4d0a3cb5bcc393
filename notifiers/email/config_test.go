package email_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/notifiers/email"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := testpeer.NewSMTP(t, testpeer.SMTPOptions{}).CAFile()

	base := func(mut func(*email.Config)) email.Config {
		c := email.Config{
			Host: "smtp.example.com",
			From: "Billing <billing@example.com>",
			To:   []string{"finance@example.com"},
		}
		if mut != nil {
			mut(&c)
		}
		return c
	}
	tests := []struct {
		name string
		cfg  email.Config
		// want maps each expected field to a fragment of its message; nil
		// means valid.
		want map[string]string
	}{
		{name: "minimal", cfg: base(nil)},
		{name: "everything", cfg: email.Config{
			Host: "smtp.example.com", Port: email.NewPort(2525), Username: "billing", Password: "hunter2-secret",
			TLS: "tls", CAFile: caFile, From: "billing@example.com",
			To:      []string{"Finance <finance@example.com>", "{{ .invoice.customer.email }}", "a@example.com, b@example.com"},
			Cc:      []string{"{{ .customer.email }}", "audit@example.com"},
			Subject: "[Billing] {{ .webhook_type }}",
		}},
		{name: "ipv4 host", cfg: base(func(c *email.Config) { c.Host = "10.0.0.5" })},
		{name: "ipv6 host", cfg: base(func(c *email.Config) { c.Host = "::1" })},
		{name: "port as string", cfg: base(func(c *email.Config) { c.Port = portFromYAML(t, `"465"`) })},
		{name: "tls none without auth", cfg: base(func(c *email.Config) { c.TLS = "none" })},
		{name: "tls none with auth on loopback", cfg: base(func(c *email.Config) {
			c.TLS, c.Host, c.Username, c.Password = "none", "127.0.0.1", "u", "p4ssword"
		})},
		{name: "tls none with auth on localhost", cfg: base(func(c *email.Config) {
			c.TLS, c.Host, c.Username, c.Password = "none", "localhost", "u", "p4ssword"
		})},
		{name: "empty", cfg: email.Config{}, want: map[string]string{"host": "required", "from": "required", "to": "at least one"}},
		{name: "host with port", cfg: base(func(c *email.Config) { c.Host = "smtp.example.com:587" }), want: map[string]string{"host": "port in port"}},
		{name: "host as url", cfg: base(func(c *email.Config) { c.Host = "smtp://smtp.example.com" }), want: map[string]string{"host": "not a host name"}},
		{name: "port zero", cfg: base(func(c *email.Config) { c.Port = email.NewPort(0) }), want: map[string]string{"port": "not a port number"}},
		{name: "port too big", cfg: base(func(c *email.Config) { c.Port = email.NewPort(70000) }), want: map[string]string{"port": `"70000" is not a port number`}},
		{name: "port not a number", cfg: base(func(c *email.Config) { c.Port = portFromYAML(t, "smtp") }), want: map[string]string{"port": `"smtp" is not a port number`}},
		{name: "port not expanded", cfg: base(func(c *email.Config) { c.Port = portFromYAML(t, `"${SMTP_PORT}"`) }), want: map[string]string{"port": "not expanded"}},
		{name: "unknown tls", cfg: base(func(c *email.Config) { c.TLS = "ssl" }), want: map[string]string{"tls": `"ssl" is not one of starttls, tls, none`}},
		{name: "tls is case sensitive", cfg: base(func(c *email.Config) { c.TLS = "STARTTLS" }), want: map[string]string{"tls": "not one of"}},
		{name: "password without username", cfg: base(func(c *email.Config) { c.Password = "hunter2-secret" }), want: map[string]string{"password": "without username"}},
		{name: "username without password", cfg: base(func(c *email.Config) { c.Username = "billing" }), want: map[string]string{"password": "required with username"}},
		{name: "plaintext password to remote host", cfg: base(func(c *email.Config) {
			c.TLS, c.Username, c.Password = "none", "billing", "hunter2-secret"
		}), want: map[string]string{"tls": "password in plaintext to smtp.example.com"}},
		{name: "missing ca file", cfg: base(func(c *email.Config) { c.CAFile = filepath.Join(dir, "missing.pem") }), want: map[string]string{"ca_file": "read CA file"}},
		{name: "ca file not pem", cfg: base(func(c *email.Config) { c.CAFile = notPEM }), want: map[string]string{"ca_file": "no PEM certificate"}},
		{name: "bad from", cfg: base(func(c *email.Config) { c.From = "billing at example.com" }), want: map[string]string{"from": `"billing at example.com" is not an email address`}},
		{name: "from with template", cfg: base(func(c *email.Config) { c.From = "{{ .sender }}" }), want: map[string]string{"from": "not an email address"}},
		{name: "bad literal to", cfg: base(func(c *email.Config) {
			c.To = []string{"finance@example.com", "not-an-address"}
		}), want: map[string]string{"to[1]": `"not-an-address" is not an email address`}},
		{name: "empty to entry", cfg: base(func(c *email.Config) { c.To = []string{" "} }), want: map[string]string{"to[0]": "empty recipient"}},
		{name: "bad literal cc", cfg: base(func(c *email.Config) { c.Cc = []string{"{{ .a }}", "audit@"} }), want: map[string]string{"cc[1]": "not an email address"}},
		{name: "cc without to", cfg: base(func(c *email.Config) { c.To, c.Cc = nil, []string{"audit@example.com"} }), want: map[string]string{"to": "at least one"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			got := map[string]string{}
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var fe *notifiers.FieldError
					if !errors.As(e, &fe) {
						t.Fatalf("error %v is not a *notifiers.FieldError", e)
					}
					if _, dup := got[fe.Field]; dup {
						t.Errorf("two errors for %s", fe.Field)
					}
					got[fe.Field] = fe.Message
				}
			}
			for field, frag := range tc.want {
				msg, ok := got[field]
				if !ok {
					t.Errorf("no error for %s (got %v)", field, got)
					continue
				}
				if !strings.Contains(msg, frag) {
					t.Errorf("%s: message %q does not contain %q", field, msg, frag)
				}
			}
			for field, msg := range got {
				if _, ok := tc.want[field]; !ok {
					t.Errorf("unexpected error for %s: %s", field, msg)
				}
			}
			if err != nil && strings.Contains(err.Error(), "hunter2-secret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	_, err := email.New(email.Config{Host: "smtp.example.com", From: "billing@example.com", Password: "hunter2-secret"}, notifiers.Options{})
	if err == nil {
		t.Fatal("New accepted a config without recipients")
	}
	for _, frag := range []string{"email:", "to:", "password:"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q does not contain %q", err, frag)
		}
	}
	if strings.Contains(err.Error(), "hunter2-secret") {
		t.Errorf("error shows the password: %v", err)
	}
}

// portFromYAML decodes a port's YAML value the way the rules file is
// decoded.
func portFromYAML(t *testing.T, value string) email.Port {
	t.Helper()
	var c struct {
		Port email.Port `yaml:"port"`
	}
	if err := yaml.Unmarshal([]byte("port: "+value+"\n"), &c); err != nil {
		t.Fatalf("decode port %s: %v", value, err)
	}
	return c.Port
}

func TestPortYAML(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		want    int // after expansion; 0 means unset
		wantErr string
	}{
		{name: "number", yaml: "host: h\nport: 587\n", want: 587},
		{name: "quoted number", yaml: "host: h\nport: \"2525\"\n", want: 2525},
		{name: "variable", yaml: "host: h\nport: \"${SMTP_PORT}\"\n", env: map[string]string{"SMTP_PORT": "465"}, want: 465},
		{name: "unquoted variable with default", yaml: "host: h\nport: ${SMTP_PORT:-587}\n", want: 587},
		{name: "absent", yaml: "host: h\n", want: 0},
		{name: "flow mapping", yaml: "{host: h, port: 2525, tls: none}\n", want: 2525},
		{name: "flow mapping with variable", yaml: "{host: h, port: \"${SMTP_PORT}\", tls: none}\n", env: map[string]string{"SMTP_PORT": "1025"}, want: 1025},
		{name: "null", yaml: "host: h\nport:\n", want: 0},
		{name: "out of range decodes, Validate rejects", yaml: "host: h\nport: 70000\n", wantErr: "not a port number"},
		{name: "fraction", yaml: "host: h\nport: 25.5\n", wantErr: `"25.5" is not a port number`},
		{name: "sequence", yaml: "host: h\nport: [1, 2]\n", wantErr: "number or a string"},
		{name: "mapping", yaml: "host: h\nport: {a: 1}\n", wantErr: "number or a string"},
	}
	expand := func(env map[string]string) func(string) string {
		return func(s string) string {
			return os.Expand(s, func(ref string) string {
				name, def, _ := strings.Cut(ref, ":-")
				if v, ok := env[name]; ok {
					return v
				}
				return def
			})
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Both decoding paths: bytes, and an AST node (as the router
			// decodes each channel block).
			file, err := parser.ParseBytes([]byte(tc.yaml), 0)
			if err != nil {
				t.Fatal(err)
			}
			decoders := map[string]func(*email.Config) error{
				"Unmarshal":   func(c *email.Config) error { return yaml.Unmarshal([]byte(tc.yaml), c) },
				"NodeToValue": func(c *email.Config) error { return yaml.NodeToValue(file.Docs[0].Body, c) },
			}
			for name, decode := range decoders {
				var c email.Config
				err := decode(&c)
				if err == nil {
					_ = c.Port.ExpandEnv(expand(tc.env))
					var n int
					n, err = c.Port.Number()
					if err == nil && n != tc.want {
						t.Errorf("%s: port = %d, want %d", name, n, tc.want)
					}
				}
				switch {
				case tc.wantErr == "" && err != nil:
					t.Errorf("%s: %v", name, err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Errorf("%s: error %v, want one containing %q", name, err, tc.wantErr)
				}
			}
		})
	}
}

func TestPortMarshal(t *testing.T) {
	tests := []struct {
		name string
		port email.Port
		want string
	}{
		{name: "number", port: email.NewPort(587), want: "port: 587\n"},
		{name: "variable", port: portFromYAML(t, `"${SMTP_PORT}"`), want: "port: ${SMTP_PORT}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := yaml.Marshal(struct {
				Port email.Port `yaml:"port"`
			}{tc.port})
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got %q, want %q", out, tc.want)
			}
			// And back.
			if got := portFromYAML(t, strings.TrimPrefix(strings.TrimSpace(string(out)), "port: ")); got.String() != tc.port.String() {
				t.Errorf("round trip: %q, want %q", got, tc.port)
			}
		})
	}
}
