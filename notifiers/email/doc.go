// Package email is the email channel: it sends each delivery as one
// message through an SMTP server (submission with STARTTLS, implicit TLS,
// or plaintext to a local relay).
//
// It owns the channel's `email:` configuration block (Config, Port and
// their validation), the composition of the message (From, To, Cc, an
// RFC 2047-encoded Subject, a Message-ID derived from the delivery ID so
// that retries and replays are one message to mail clients, the
// X-Switchboard-* headers, and a text/plain, text/html or
// multipart/alternative body) and the SMTP dialogue that submits it.
//
// It does not render templates: the router renders the recipients,
// subject and bodies once into notifiers.Parts. It does not retry either:
// Notify classifies each failure (SMTP 4xx, network errors and timeouts
// are transient; 5xx, a missing STARTTLS and untrusted certificates are
// permanent) and the delivery workers decide.
//
// Messages are composed with github.com/go-mail/mail/v2. The SMTP
// dialogue uses net/smtp over a connection this package dials, because
// go-mail's dialer cannot be bound by a context (see smtpTransport).
package email
