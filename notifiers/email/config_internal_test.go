package email

import "testing"

func TestDefaultPort(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want int
	}{
		{name: "starttls by default", cfg: Config{}, want: 587},
		{name: "starttls", cfg: Config{TLS: TLSStartTLS}, want: 587},
		{name: "implicit tls", cfg: Config{TLS: TLSImplicit}, want: 465},
		{name: "none", cfg: Config{TLS: TLSNone}, want: 25},
		{name: "explicit port wins", cfg: Config{TLS: TLSImplicit, Port: NewPort(2465)}, want: 2465},
		{name: "expanded to empty", cfg: Config{TLS: TLSNone, Port: Port{raw: " "}}, want: 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.port(); got != tc.want {
				t.Errorf("port() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestMessageIDCharacters(t *testing.T) {
	tests := []struct {
		id   string
		want string
	}{
		{id: "dlv_01HZX3K9Q2", want: "<dlv_01HZX3K9Q2@switchboard>"},
		{id: "5f0c1a2e-7b7d-4c1e-9a0b-2f7f1c3d4e5f", want: "<5f0c1a2e-7b7d-4c1e-9a0b-2f7f1c3d4e5f@switchboard>"},
		{id: "a.b c<d>@e=f", want: "<a=2Eb=20c=3Cd=3E=40e=3Df@switchboard>"},
		{id: "é", want: "<=C3=A9@switchboard>"},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			if got := MessageID(tc.id); got != tc.want {
				t.Errorf("MessageID(%q) = %q, want %q", tc.id, got, tc.want)
			}
		})
	}
}
