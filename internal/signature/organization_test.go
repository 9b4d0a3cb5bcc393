package signature

import (
	"context"
	"errors"
	"testing"
)

// TestLagoOrganization: the organization check runs only after the
// signature holds, and accepts exactly the listed organizations.
func TestLagoOrganization(t *testing.T) {
	const key = "6a2f1f5e-3c8b-4d7e-9b1a-0f4c2d8e7a31"
	v := LagoOrganization(LagoHMAC(key), []string{"org-a", "org-b"})
	tests := []struct {
		name    string
		body    string
		sig     string // "" signs body
		wantOrg string // "-" means no error
		wantErr string
	}{
		{"listed", `{"organization_id":"org-a","webhook_type":"x"}`, "", "-", ""},
		{"second listed", `{"organization_id":"org-b"}`, "", "-", ""},
		{"other organization", `{"organization_id":"org-c"}`, "", "org-c", "organization_id not accepted by this source"},
		{"no organization_id", `{"webhook_type":"x"}`, "", "", "no organization_id in the message"},
		{"organization_id not a string", `{"organization_id":7}`, "", "", "no organization_id in the message"},
		{"not JSON", `[1`, "", "", "no organization_id in the message"},
		{"bad signature first", `{"organization_id":"org-c"}`, lagoSig(key, "other"), "", "signature mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := tt.sig
			if sig == "" {
				sig = lagoSig(key, tt.body)
			}
			err := v.Verify(context.Background(), lagoHeaders(sig, "hmac"), []byte(tt.body))
			if tt.wantOrg == "-" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
			var oe *OrganizationError
			if isOrg := errors.As(err, &oe); isOrg != (tt.wantErr != "signature mismatch") || (isOrg && oe.Got != tt.wantOrg) {
				t.Fatalf("OrganizationError %v (%+v)", isOrg, oe)
			}
		})
	}
	if inner := LagoHMAC(key); LagoOrganization(inner, nil) != inner {
		t.Error("no organizations should leave the verifier unchanged")
	}
}
