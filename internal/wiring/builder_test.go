package wiring_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/internal/standardwebhooks"
	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

// The Builder the program compiles with is a router.Builder.
var _ router.Builder = wiring.Builder{}

// TestKindConfigs: every kind decodes into a fresh configuration of its
// own, so two channels of one kind never share settings.
func TestKindConfigs(t *testing.T) {
	for _, k := range wiring.Kinds() {
		if k.Config == nil || k.New == nil || k.Show == nil || k.Summary == nil || k.Notice == nil {
			t.Fatalf("kind %s: descriptor incomplete", k.Name)
		}
		if a, b := k.Config(), k.Config(); a == b {
			t.Errorf("kind %s: Config returns the same value twice", k.Name)
		}
	}
}

// TestVerifier builds each kind of verification block and checks the
// result against a request it must refuse.
func TestVerifier(t *testing.T) {
	b := wiring.Builder{}
	for name, block := range map[string]any{
		"lago hmac":         &config.LagoSourceConfig{HMACSecret: "s3cret"},
		"lago hmac pinned":  &config.LagoSourceConfig{HMACSecret: "s3cret", OrganizationID: config.StringList{"org-1"}},
		"generic hmac":      &config.HMACSourceConfig{Secret: "s3cret", Header: "X-Signature"},
		"standard webhooks": &config.StandardWebhooksConfig{Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		"bearer":            &config.BearerConfig{Token: "t0ken"},
	} {
		v, err := b.Verifier(block)
		if err != nil || v == nil {
			t.Fatalf("%s: %v, %v", name, v, err)
		}
		if err := v.Verify(context.Background(), http.Header{}, []byte(`{}`)); err == nil {
			t.Errorf("%s: an unsigned request passed", name)
		}
	}
	if _, err := b.Verifier(&config.LagoSourceConfig{JWTPublicKey: "not a key"}); err == nil {
		t.Error("a broken JWT key built a verifier")
	}
	if _, err := b.Verifier(struct{}{}); err == nil {
		t.Error("an unknown block built a verifier")
	}
}

// TestStandardWebhooksIDHeader: the router names the Standard Webhooks
// ID header without importing the protocol's package.
func TestStandardWebhooksIDHeader(t *testing.T) {
	if router.StandardWebhooksIDHeader != standardwebhooks.HeaderID {
		t.Fatalf("router says %q, the protocol %q", router.StandardWebhooksIDHeader, standardwebhooks.HeaderID)
	}
}
