package router

import (
	"context"
	"net/http"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// Builder builds what a rules file names but the router does not know:
// the channel kinds, whose descriptors decode, validate and build each
// channel's notifier, and the sources' signature verifiers. The router
// imports no channel and no verifier; internal/wiring provides the
// Builder the program uses, and the caller of Load or Compile passes it
// in LoadOptions.
type Builder interface {
	// Kind returns the channel kind named name ("slack", "email", "http").
	Kind(name string) (*notifiers.Kind, bool)
	// KindNames returns every kind's name, in the order messages list
	// them.
	KindNames() []string
	// Verifier builds a source's signature verifier from its
	// verification block: a *config.LagoSourceConfig (HMAC or JWT, pinned
	// to its organization_id when set), *config.HMACSourceConfig,
	// *config.StandardWebhooksConfig or *config.BearerConfig. The router
	// has checked which one applies.
	Verifier(block any) (Verifier, error)
}

// Verifier authenticates a request to a source from its headers and raw
// body. It is an alias of an interface literal, not a new type, so that a
// Builder can return its verifiers (signature.Verifier, the same literal)
// without importing the router.
type Verifier = interface {
	Verify(ctx context.Context, h http.Header, body []byte) error
}

// parserKinds shows a Builder's kinds to the parser.
type parserKinds struct{ Builder }

// KindSettings returns a new configuration of the kind named name.
func (k parserKinds) KindSettings(name string) config.Settings {
	if d, ok := k.Kind(name); ok {
		return d.Config()
	}
	return nil
}
