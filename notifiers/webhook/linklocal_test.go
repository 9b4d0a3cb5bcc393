package webhook

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/secret"
)

// TestLinkLocalRefused: a channel cannot aim at cloud metadata endpoints
// unless the operator allows it: a literal address fails validation, and
// any address the dialer reaches after DNS (a name that resolves there,
// or is rebound there) is refused before connecting, permanently.
func TestLinkLocalRefused(t *testing.T) {
	for _, u := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://[fe80::1]/x",
		"http://[::ffff:169.254.169.254]/x",
		"http://[fd00:ec2::254]/latest",
		"http://100.100.100.200/latest",
	} {
		err := Config{URL: secret.URL(u)}.Validate()
		if err == nil || !strings.Contains(err.Error(), "allow_link_local") {
			t.Errorf("Validate(%s) = %v, want refused", u, err)
		}
		if err := (Config{URL: secret.URL(u), AllowLinkLocal: true}).Validate(); err != nil {
			t.Errorf("Validate(%s) with allow_link_local = %v", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:9/x", "http://10.0.0.8/x", "https://crm.example.com/x", "http://[::1]/x"} {
		if err := (Config{URL: secret.URL(u)}).Validate(); err != nil {
			t.Errorf("Validate(%s) = %v, want allowed", u, err)
		}
	}

	// The dialer's check, on resolved addresses.
	for addr, refused := range map[string]bool{
		"169.254.169.254:80": true, "[fe80::1%eth0]:80": true, "[::ffff:169.254.1.1]:443": true,
		"127.0.0.1:80": false, "10.1.2.3:443": false, "[2001:db8::1]:80": false,
	} {
		err := refuseLinkLocal("tcp", addr, nil)
		if (err != nil) != refused || (refused && !errors.Is(err, errLinkLocal)) {
			t.Errorf("refuseLinkLocal(%s) = %v, want refused %v", addr, err, refused)
		}
	}

	// A dialer with that check never opens the connection.
	d := &net.Dialer{Control: refuseLinkLocal}
	if _, err := d.DialContext(context.Background(), "tcp", netip.MustParseAddrPort("169.254.169.254:80").String()); !errors.Is(err, errLinkLocal) {
		t.Errorf("dial 169.254.169.254 = %v, want refused before connecting", err)
	}
}
