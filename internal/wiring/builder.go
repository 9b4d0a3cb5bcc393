package wiring

import (
	"fmt"
	"slices"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/internal/signature"
	"github.com/switchboard-dev/switchboard/internal/standardwebhooks"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// Builder is what the router compiles a rules file with (router.Builder):
// the registered channel kinds, whose descriptors build notifiers, and the
// signature verifiers of sources. The zero value is ready to use.
type Builder struct{}

// Kind returns the channel kind named name.
func (Builder) Kind(name string) (*notifiers.Kind, bool) { return Kind(name) }

// KindNames returns every kind's name, in the order the editor offers
// them.
func (Builder) KindNames() []string { return KindNames() }

// Verifier builds a source's verifier from its verification block: a
// *config.LagoSourceConfig (HMAC when hmac_secret is set, JWT otherwise;
// pinned to its organization_id when that is set), a
// *config.HMACSourceConfig, a *config.StandardWebhooksConfig or a
// *config.BearerConfig.
func (Builder) Verifier(block any) (signature.Verifier, error) {
	switch b := block.(type) {
	case *config.LagoSourceConfig:
		var v signature.Verifier
		if b.HMACSecret != "" {
			v = signature.LagoHMAC(b.HMACSecret)
		} else {
			var err error
			v, err = signature.LagoJWT(signature.LagoJWTOptions{
				PublicKey: b.JWTPublicKey, KeyURL: b.JWTPublicKeyURL, APIKey: b.APIKey, Issuer: b.JWTIssuer,
			})
			if err != nil {
				return nil, err
			}
		}
		if len(b.OrganizationID) > 0 {
			v = signature.LagoOrganization(v, slices.Clone([]string(b.OrganizationID)))
		}
		return v, nil
	case *config.HMACSourceConfig:
		return signature.GenericHMAC(signature.HMACOptions{
			Secret: b.Secret, Header: b.Header, Hash: b.Hash, Encoding: b.Encoding, Prefix: b.Prefix,
		})
	case *config.StandardWebhooksConfig:
		return signature.StandardWebhooks(b.Secret, standardwebhooks.DefaultTolerance)
	case *config.BearerConfig:
		return signature.Bearer(b.Token), nil
	}
	return nil, fmt.Errorf("no verifier for %T", block)
}
