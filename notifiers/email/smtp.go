package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"
)

// localName is the name sent with EHLO, as go-mail and net/smtp do.
const localName = "localhost"

// smtpTransport submits a message over one new connection per delivery.
//
// go-mail composes the messages, but its Dialer cannot carry a context: it
// reads the server's greeting before it sets any deadline, so a server that
// accepts the connection and says nothing blocks it forever, and its only
// dialing hook is a package variable. The SMTP dialogue therefore runs
// here, on net/smtp over a connection dialed with the context, with one
// deadline for the whole attempt and the context's cancellation applied to
// the connection.
type smtpTransport struct {
	addr      string
	host      string
	mode      string
	tlsConfig *tls.Config
	username  string
	password  string
	timeout   time.Duration
}

// stageError says which step of the SMTP dialogue failed.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// permanentSetup marks configuration problems found during the dialogue
// (no STARTTLS, no usable AUTH): retrying cannot help.
type permanentSetup struct{ msg string }

func (e *permanentSetup) Error() string { return e.msg }

func (t *smtpTransport) send(ctx context.Context, env envelope, msg io.WriterTo) (err error) {
	start := time.Now()
	deadline := start.Add(t.timeout)
	ctxDeadline := false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxDeadline = d, true
	}
	dialCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	stage := "connect to " + t.addr
	defer func() {
		if err == nil {
			return
		}
		timedOut := errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
			errors.Is(err, context.Canceled)
		switch {
		case !timedOut:
		case ctx.Err() != nil:
			// The context ended the attempt (its end moved the
			// connection's deadline): say so rather than "i/o timeout".
			err = ctx.Err()
		case ctxDeadline:
			// The connection reached the context's deadline a moment
			// before the context noticed.
			err = context.DeadlineExceeded
		default:
			err = fmt.Errorf("no answer within %s: %w", deadline.Sub(start).Round(time.Millisecond), err)
		}
		err = &stageError{stage: stage, err: err}
	}()

	var d net.Dialer
	raw, err := d.DialContext(dialCtx, "tcp", t.addr)
	if err != nil {
		return err
	}
	defer raw.Close()
	if err := raw.SetDeadline(deadline); err != nil {
		return err
	}
	// Cancelling ctx unblocks whatever read or write is in progress.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	conn := raw
	if t.mode == TLSImplicit {
		stage = "TLS handshake with " + t.addr
		tc := tls.Client(raw, t.tlsConfig)
		if err := tc.HandshakeContext(dialCtx); err != nil {
			return err
		}
		conn = tc
	}

	stage = "greeting"
	c, err := smtp.NewClient(conn, t.host)
	if err != nil {
		return err
	}
	defer c.Close()

	stage = "EHLO"
	if err := c.Hello(localName); err != nil {
		return err
	}

	if t.mode == TLSStartTLS {
		stage = "STARTTLS"
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return &permanentSetup{msg: "the server does not offer STARTTLS, which tls: starttls requires (use tls: tls for implicit TLS, usually port 465)"}
		}
		if err := c.StartTLS(t.tlsConfig); err != nil {
			return err
		}
	}

	if t.username != "" {
		stage = "AUTH"
		a, err := t.auth(c)
		if err != nil {
			return err
		}
		if err := c.Auth(a); err != nil {
			return err
		}
	}

	stage = "MAIL FROM"
	if err := c.Mail(env.from); err != nil {
		return err
	}
	for _, rcpt := range env.to {
		stage = "RCPT TO <" + rcpt + ">"
		if err := c.Rcpt(rcpt); err != nil {
			return err
		}
	}
	stage = "DATA"
	w, err := c.Data()
	if err != nil {
		return err
	}
	stage = "message"
	if _, err := msg.WriteTo(w); err != nil {
		_ = w.Close()
		return err
	}
	if err := w.Close(); err != nil { // the server's verdict on the message
		return err
	}
	// Delivered. A failing QUIT does not undo that, so it is not an error.
	_ = c.Quit()
	return nil
}

// auth picks the strongest mechanism the server offers that can carry a
// password: PLAIN, then LOGIN, then CRAM-MD5. PLAIN and LOGIN refuse to
// send the password in plaintext to anything but this machine.
func (t *smtpTransport) auth(c *smtp.Client) (smtp.Auth, error) {
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return nil, &permanentSetup{msg: "username is set but the server does not offer AUTH"}
	}
	_, encrypted := c.TLSConnectionState()
	if !encrypted && !isLoopback(t.host) {
		return nil, &permanentSetup{msg: "refusing to send the password over an unencrypted connection (tls: none)"}
	}
	offered := map[string]bool{}
	for _, m := range strings.Fields(strings.ToUpper(mechs)) {
		offered[m] = true
	}
	switch {
	case offered["PLAIN"]:
		return smtp.PlainAuth("", t.username, t.password, t.host), nil
	case offered["LOGIN"]:
		return &loginAuth{username: t.username, password: t.password}, nil
	case offered["CRAM-MD5"]:
		return smtp.CRAMMD5Auth(t.username, t.password), nil
	}
	return nil, &permanentSetup{msg: fmt.Sprintf("the server offers no supported AUTH mechanism (it offers %s; supported: PLAIN, LOGIN, CRAM-MD5)", mechs)}
}

// loginAuth is the LOGIN mechanism (Microsoft 365, older Exchange), which
// net/smtp does not provide: the username answers the first challenge and
// the password the second, whatever their text ("Username:", "Password:").
// auth checks encryption before choosing it.
type loginAuth struct {
	username string
	password string
	step     int
}

func (a *loginAuth) Start(_ *smtp.ServerInfo) (string, []byte, error) {
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.username), nil
	case 2:
		return []byte(a.password), nil
	}
	return nil, errors.New("unexpected third LOGIN challenge")
}

// isPermanent classifies a send failure: SMTP 5xx replies, configuration
// problems found in the dialogue and TLS failures that only a
// configuration change can fix (an untrusted or mismatched certificate,
// TLS spoken to a plaintext port) are permanent; 4xx replies, network
// errors and timeouts are transient.
func isPermanent(err error) bool {
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return reply.Code >= 500 && reply.Code < 600
	}
	var setup *permanentSetup
	if errors.As(err, &setup) {
		return true
	}
	var (
		verify    *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
	)
	return errors.As(err, &verify) || errors.As(err, &unknownCA) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &record)
}
