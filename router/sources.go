package router

import (
	"github.com/switchboard-dev/switchboard/config"

	"reflect"
	"slices"
	"strings"
)

// StandardWebhooksIDHeader holds a Standard Webhooks message's ID, the
// idempotency key of a source verifying them that names no other header.
const StandardWebhooksIDHeader = "webhook-id"

// DefaultMaxBody is a generic source's default body limit.
const DefaultMaxBody = 1 << 20

// DefaultLagoMaxBody is a lago source's default body limit: invoice.created
// carries every fee (about 3 KB each), so an invoice with 600 fees is about
// 1.9 MB, and Lago gives up after three refused attempts.
const DefaultLagoMaxBody = 8 << 20

// Source is a compiled entry of `sources:`.
type Source struct {
	Name string
	// Kind is "lago" or "generic".
	Kind string
	// MaxBody is the largest accepted body, in bytes.
	MaxBody int64
	// Verifier authenticates requests; nil means unsigned.
	Verifier Verifier
	// Verification names the method for status output ("hmac", "jwt",
	// "standard_webhooks", "bearer", "none").
	Verification string
	// KeyHeader names the header holding the idempotency key; empty means
	// messages from this source are never deduplicated.
	KeyHeader string
	// Organizations lists the Lago organization IDs the source accepts;
	// empty means any (HMAC, unsigned, or allow_any_organization).
	Organizations []string
}

func (c *compiler) compileSource(sd config.SourceDoc) {
	if !sd.OK {
		return
	}
	cfg := sd.Config
	s := &Source{Name: sd.Name, MaxBody: DefaultMaxBody, Verification: "none"}
	if cfg.MaxBody > 0 {
		s.MaxBody = int64(cfg.MaxBody)
	}
	if !ValidName(sd.Name) {
		c.ds.Add(config.SeverityError, c.file, sd.Key, "", "sources", "source name %q: use letters, digits, '-' and '_' (it is a URL path segment)", sd.Name)
	}
	hasLago, hasGeneric := config.Lookup(sd.Node, "lago") != nil || cfg.Lago != nil, config.Lookup(sd.Node, "generic") != nil || cfg.Generic != nil
	x := c.x
	before := x.missing
	unset := func() bool { return x.missing > before }
	switch {
	case hasLago && hasGeneric:
		c.ds.Add(config.SeverityError, c.file, sd.Key, "", "sources."+sd.Name, "source %q: set either lago or generic, not both", sd.Name)
		return
	case hasLago:
		c.compileLagoSource(sd, s, unset)
	default:
		c.compileGenericSource(sd, s, unset)
	}
	c.rs.Sources[sd.Name] = s
	c.rs.sourceOrder = append(c.rs.sourceOrder, sd.Name)
}

// compileLagoSource compiles a source's lago block into s: Lago's unique
// key, its larger body limit, the signature verifier and the pinned
// organizations. unset reports whether a ${VAR} of the block was unset.
func (c *compiler) compileLagoSource(sd config.SourceDoc, s *Source, unset func() bool) {
	cfg, x := sd.Config, c.x
	s.Kind = "lago"
	s.KeyHeader = "X-Lago-Unique-Key"
	if cfg.MaxBody <= 0 {
		s.MaxBody = DefaultLagoMaxBody
	}
	l := cfg.Lago
	if l == nil {
		l = &LagoSourceConfig{}
	}
	x.expandStruct(reflect.ValueOf(l), config.Lookup(sd.Node, "lago"), "sources."+sd.Name+".lago", "")
	c.rs.secrets = append(c.rs.secrets, secretValues(reflect.ValueOf(l))...)
	n := 0
	for _, set := range []bool{l.HMACSecret != "", l.JWTPublicKey != "", l.JWTPublicKeyURL != ""} {
		if set {
			n++
		}
	}
	at := config.PosIn(sd.Node, "lago")
	switch {
	case unset() && c.o.CheckOnly:
		// The unset variable is already a warning.
	case unset() && c.o.DryRun:
		c.ds.Add(config.SeverityWarning, c.file, at, "", "sources."+sd.Name, "source %q: signature verification disabled under --dry-run because its secret is not set", sd.Name)
	case unset():
		// The unset variable is already an error.
	case n > 1:
		c.ds.Add(config.SeverityError, c.file, at, "", "sources."+sd.Name, "source %q: set only one of hmac_secret, jwt_public_key, jwt_public_key_url", sd.Name)
	case l.HMACSecret != "":
		v, err := c.o.Builder.Verifier(l)
		if err != nil {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(sd.Node, "lago", "hmac_secret"), "", "sources."+sd.Name, "source %q: hmac_secret: %v", sd.Name, err)
			break
		}
		s.Verifier, s.Verification = v, "hmac"
	case l.JWTPublicKey != "" || l.JWTPublicKeyURL != "":
		if l.JWTPublicKeyURL != "" && l.APIKey == "" {
			c.ds.Add(config.SeverityError, c.file, at, "", "sources."+sd.Name, "source %q: jwt_public_key_url needs api_key (Lago serves the key to API clients)", sd.Name)
			break
		}
		v, err := c.o.Builder.Verifier(l)
		if err != nil {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(sd.Node, "lago", "jwt_public_key"), "", "sources."+sd.Name, "source %q: jwt_public_key: %v", sd.Name, err)
			break
		}
		s.Verifier, s.Verification = v, "jwt"
	default:
		c.ds.Add(config.SeverityWarning, c.file, at, "", "sources."+sd.Name, "source %q is unsigned: anyone who can reach /webhooks/%s can post to it", sd.Name, sd.Name)
	}
	c.pinOrganization(sd, l, s)
}

// compileGenericSource compiles a source's generic block into s: its
// idempotency header and its verifier (hmac, standard_webhooks or bearer).
// unset reports whether a ${VAR} of the block was unset.
func (c *compiler) compileGenericSource(sd config.SourceDoc, s *Source, unset func() bool) {
	cfg, x := sd.Config, c.x
	s.Kind = "generic"
	g := cfg.Generic
	if g == nil {
		g = &GenericSourceConfig{}
	}
	gn := config.Lookup(sd.Node, "generic")
	x.expandStruct(reflect.ValueOf(g), gn, "sources."+sd.Name+".generic", "")
	c.rs.secrets = append(c.rs.secrets, secretValues(reflect.ValueOf(g))...)
	s.KeyHeader = g.IdempotencyHeader
	n := 0
	for _, set := range []bool{g.HMAC != nil, g.StandardWebhooks != nil, g.Bearer != nil} {
		if set {
			n++
		}
	}
	at := config.PosIn(sd.Node, "generic")
	if at.Line == 0 {
		at = sd.Key
	}
	switch {
	case n > 1:
		c.ds.Add(config.SeverityError, c.file, at, "", "sources."+sd.Name, "source %q: set only one of hmac, standard_webhooks, bearer", sd.Name)
	case unset() && c.o.CheckOnly:
		// The unset variable is already a warning.
	case unset() && c.o.DryRun:
		c.ds.Add(config.SeverityWarning, c.file, at, "", "sources."+sd.Name, "source %q: signature verification disabled under --dry-run because its secret is not set", sd.Name)
	case unset():
		// The unset variable is already an error.
	case g.HMAC != nil:
		v, err := c.o.Builder.Verifier(g.HMAC)
		if err != nil {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(gn, "hmac"), "", "sources."+sd.Name, "source %q: hmac: %v", sd.Name, err)
			break
		}
		s.Verifier, s.Verification = v, "hmac"
	case g.StandardWebhooks != nil:
		v, err := c.o.Builder.Verifier(g.StandardWebhooks)
		if err != nil {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(gn, "standard_webhooks", "secret"), "", "sources."+sd.Name, "source %q: standard_webhooks: %v", sd.Name, err)
			break
		}
		s.Verifier, s.Verification = v, "standard_webhooks"
		if s.KeyHeader == "" {
			s.KeyHeader = StandardWebhooksIDHeader
		}
	case g.Bearer != nil:
		if g.Bearer.Token == "" {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(gn, "bearer"), "", "sources."+sd.Name, "source %q: bearer needs a token", sd.Name)
			break
		}
		v, err := c.o.Builder.Verifier(g.Bearer)
		if err != nil {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(gn, "bearer"), "", "sources."+sd.Name, "source %q: bearer: %v", sd.Name, err)
			break
		}
		s.Verifier, s.Verification = v, "bearer"
	default:
		c.ds.Add(config.SeverityWarning, c.file, at, "", "sources."+sd.Name, "source %q is unsigned: anyone who can reach /webhooks/%s can post to it", sd.Name, sd.Name)
	}
}

// pinOrganization checks organization_id and allow_any_organization and
// wraps the source's verifier so that only the listed organizations pass.
// A JWT source needs one of the two: Lago signs every tenant's webhooks
// with the same instance-wide key.
func (c *compiler) pinOrganization(sd config.SourceDoc, l *LagoSourceConfig, s *Source) {
	where := "sources." + sd.Name
	at := config.PosIn(sd.Node, "lago", "organization_id")
	if at.Line == 0 {
		at = config.PosIn(sd.Node, "lago")
	}
	for _, id := range l.OrganizationID {
		if strings.TrimSpace(id) == "" {
			c.ds.Add(config.SeverityError, c.file, at, "", where, "source %q: organization_id: empty value", sd.Name)
			return
		}
	}
	jwt := l.JWTPublicKey != "" || l.JWTPublicKeyURL != ""
	switch {
	case len(l.OrganizationID) > 0 && l.AllowAnyOrganization:
		c.ds.Add(config.SeverityError, c.file, config.PosIn(sd.Node, "lago", "allow_any_organization"), "", where,
			"source %q: set organization_id or allow_any_organization, not both", sd.Name)
		return
	case jwt && len(l.OrganizationID) == 0 && !l.AllowAnyOrganization:
		c.ds.Add(config.SeverityError, c.file, config.PosIn(sd.Node, "lago"), "", where,
			"source %q: a JWT source needs organization_id (Lago signs every organization's webhooks with the same instance key, so any tenant could post here); write allow_any_organization: true to accept all", sd.Name)
		return
	}
	if len(l.OrganizationID) > 0 && s.Verifier == nil && l.HMACSecret == "" && !jwt {
		c.ds.Add(config.SeverityWarning, c.file, at, "", where,
			"source %q: organization_id is not checked on an unsigned source (anyone can write any organization_id)", sd.Name)
	}
	if len(l.OrganizationID) > 0 && s.Verifier != nil {
		// The Builder pinned the verifier to these organizations.
		s.Organizations = slices.Clone([]string(l.OrganizationID))
	}
}

// ValidName reports whether s is usable as a source or channel name: it
// must read the same in a URL path, so "." and ".." (which a URL path
// resolves away, making /webhooks/.. unreachable) are refused.
func ValidName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}
