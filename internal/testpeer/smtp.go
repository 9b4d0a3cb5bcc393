package testpeer

// This file holds SMTPServer, a real SMTP server (github.com/emersion/go-smtp)
// running inside the test process, for the email channel's tests and for
// end-to-end tests of the whole binary.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPTLS selects how an SMTPServer offers TLS.
type SMTPTLS int

const (
	// SMTPNoTLS serves plaintext and does not offer STARTTLS.
	SMTPNoTLS SMTPTLS = iota
	// SMTPStartTLS serves plaintext and offers STARTTLS.
	SMTPStartTLS
	// SMTPImplicitTLS speaks TLS from the first byte (the port 465 style).
	SMTPImplicitTLS
)

// SMTPCommand names an SMTP command whose reply can be scripted.
type SMTPCommand string

// The commands an SMTPServer can be told to reject.
const (
	SMTPAuth SMTPCommand = "AUTH"
	SMTPMail SMTPCommand = "MAIL"
	SMTPRcpt SMTPCommand = "RCPT"
	SMTPData SMTPCommand = "DATA"
)

// SMTPReply is a scripted rejection of one command.
type SMTPReply struct {
	// Code is the SMTP reply code, e.g. 451 (transient), 550 (permanent),
	// 535 (authentication failed). Zero removes the rejection.
	Code int
	// Message is the reply text; it defaults to "scripted failure".
	Message string
	// Times is how many times the command is rejected before it is
	// accepted again; zero rejects it until the script changes.
	Times int
	// Address limits an SMTPRcpt rejection to this recipient (compared
	// case-insensitively); empty rejects every recipient.
	Address string
}

// SMTPOptions configure an SMTPServer. The zero value is a plaintext
// server without STARTTLS or AUTH that accepts every message.
type SMTPOptions struct {
	// TLS selects plaintext, STARTTLS or implicit TLS. The certificate is
	// issued for 127.0.0.1, ::1 and localhost by a CA generated for the
	// server (see CAPEM and CAFile).
	TLS SMTPTLS
	// Username and Password, when Username is set, make the server offer
	// AUTH and require it before MAIL (530 otherwise). Wrong credentials
	// get 535.
	Username string
	Password string
	// Mechanisms are the AUTH mechanisms offered: "PLAIN" and/or "LOGIN".
	// Default: PLAIN.
	Mechanisms []string
	// Reject scripts failures per command; see also SetReject.
	Reject map[SMTPCommand]SMTPReply
	// Mute makes the server accept TCP connections and never say
	// anything, like a peer behind a black-holing firewall.
	Mute bool
}

// SMTPMessage is one message an SMTPServer accepted.
type SMTPMessage struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To are the envelope recipients (RCPT TO), in order.
	To []string
	// Data is the message exactly as received (headers and body, CRLF
	// line endings, dot-stuffing removed).
	Data []byte
	// Header holds the parsed top-level headers; nil when Data does not
	// parse as a message.
	Header mail.Header
	// User is the authenticated username, or empty.
	User string
	// TLS reports whether the session was encrypted (STARTTLS or
	// implicit TLS).
	TLS bool
	// Received is when the server accepted the message.
	Received time.Time
}

// Subject returns the message's Subject header with RFC 2047 encoded
// words decoded.
func (m SMTPMessage) Subject() string { return m.HeaderValue("Subject") }

// HeaderValue returns the first value of a top-level header with RFC 2047
// encoded words decoded (the raw value if it does not decode).
func (m SMTPMessage) HeaderValue(name string) string {
	if m.Header == nil {
		return ""
	}
	raw := m.Header.Get(name)
	dec, err := new(mime.WordDecoder).DecodeHeader(raw)
	if err != nil {
		return raw
	}
	return dec
}

// SMTPPart is one leaf body part of a message: the whole body of a
// single-part message, or one part of a multipart one.
type SMTPPart struct {
	// ContentType is the part's Content-Type header as sent.
	ContentType string
	// MediaType is its lower-case media type ("text/plain").
	MediaType string
	// Charset is its charset parameter, if any.
	Charset string
	// Body is the decoded content (quoted-printable and base64 undone),
	// with CRLF line endings turned into LF. SMTP ends every message with
	// a line break; for a single-part message that last line break is
	// removed, as multipart parsing does for each part.
	Body string
}

// Parts returns the message's leaf parts in order, walking nested
// multipart bodies.
func (m SMTPMessage) Parts() ([]SMTPPart, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return nil, fmt.Errorf("smtp peer: parse message: %w", err)
	}
	return smtpParts(textproto.MIMEHeader(msg.Header), msg.Body, 0)
}

// Text returns the body of the first text/plain part.
func (m SMTPMessage) Text() (string, error) { return m.part("text/plain") }

// HTML returns the body of the first text/html part.
func (m SMTPMessage) HTML() (string, error) { return m.part("text/html") }

func (m SMTPMessage) part(mediaType string) (string, error) {
	parts, err := m.Parts()
	if err != nil {
		return "", err
	}
	for _, p := range parts {
		if p.MediaType == mediaType {
			return p.Body, nil
		}
	}
	return "", fmt.Errorf("smtp peer: no %s part", mediaType)
}

func smtpParts(h textproto.MIMEHeader, body io.Reader, depth int) ([]SMTPPart, error) {
	if depth > 10 {
		return nil, errors.New("smtp peer: multipart nested too deeply")
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, fmt.Errorf("smtp peer: content type %q: %w", ct, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		var out []SMTPPart
		for {
			p, err := r.NextRawPart()
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if err != nil {
				return nil, fmt.Errorf("smtp peer: read %s: %w", mediaType, err)
			}
			sub, err := smtpParts(p.Header, p, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	var dec io.Reader = body
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		dec = quotedprintable.NewReader(body)
	case "base64":
		dec = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(dec)
	if err != nil {
		return nil, fmt.Errorf("smtp peer: decode %s body: %w", mediaType, err)
	}
	if depth == 0 {
		b = bytes.TrimSuffix(b, []byte("\r\n"))
	}
	return []SMTPPart{{
		ContentType: ct,
		MediaType:   mediaType,
		Charset:     params["charset"],
		Body:        strings.ReplaceAll(string(b), "\r\n", "\n"),
	}}, nil
}

// rejection is a scripted reply and how many more times it applies
// (negative: until changed).
type rejection struct {
	reply SMTPReply
	left  int
}

// SMTPServer is an SMTP server on 127.0.0.1 that records every message it
// accepts and plays scripted failures. It is safe for concurrent use and
// is closed when the test ends.
type SMTPServer struct {
	t      testing.TB
	opts   SMTPOptions
	ln     net.Listener
	srv    *smtp.Server // nil when Mute
	caPEM  []byte
	caFile string
	served chan struct{} // closed when the accept loop has returned
	conns  sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	changed     chan struct{} // closed and replaced on every recorded message
	messages    []SMTPMessage
	rejects     map[SMTPCommand]*rejection
	sessions    int
	connections int
	open        map[*trackedConn]struct{}
}

// NewSMTP starts an SMTPServer configured by o on 127.0.0.1 and closes it
// when the test ends.
func NewSMTP(t testing.TB, o SMTPOptions) *SMTPServer {
	t.Helper()
	caPEM, cert, err := smtpCertificate()
	if err != nil {
		t.Fatalf("smtp peer: certificate: %v", err)
	}
	caFile := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatalf("smtp peer: write CA file: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtp peer: listen: %v", err)
	}
	s := &SMTPServer{
		t:       t,
		opts:    o,
		caPEM:   caPEM,
		caFile:  caFile,
		served:  make(chan struct{}),
		changed: make(chan struct{}),
		rejects: map[SMTPCommand]*rejection{},
		open:    map[*trackedConn]struct{}{},
	}
	s.ln = &countingListener{Listener: ln, s: s}
	for cmd, r := range o.Reject {
		s.SetReject(cmd, r)
	}
	t.Cleanup(s.Close)

	if o.Mute {
		go s.acceptMuted()
		return s
	}

	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv := smtp.NewServer(smtpBackend{s: s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // plaintext AUTH on 127.0.0.1 is what tls: none tests need
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = smtpLogger{s: s}
	serveOn := s.ln
	switch o.TLS {
	case SMTPStartTLS:
		srv.TLSConfig = tlsConfig
	case SMTPImplicitTLS:
		serveOn = tls.NewListener(s.ln, tlsConfig)
	}
	s.srv = srv
	go func() {
		defer close(s.served)
		_ = srv.Serve(serveOn)
	}()
	return s
}

// Addr is the server's "127.0.0.1:port".
func (s *SMTPServer) Addr() string { return s.ln.Addr().String() }

// Host is "127.0.0.1".
func (s *SMTPServer) Host() string { return "127.0.0.1" }

// Port is the server's TCP port.
func (s *SMTPServer) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// CAPEM is the PEM certificate of the CA that issued the server's
// certificate, for a client's trust store.
func (s *SMTPServer) CAPEM() []byte { return append([]byte(nil), s.caPEM...) }

// CAFile is the path of a file holding CAPEM (the email channel's
// ca_file).
func (s *SMTPServer) CAFile() string { return s.caFile }

// SetReject scripts the reply to cmd (a zero Code removes the
// rejection). It takes effect for the next command the server reads.
func (s *SMTPServer) SetReject(cmd SMTPCommand, r SMTPReply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Code == 0 {
		delete(s.rejects, cmd)
		return
	}
	if r.Message == "" {
		r.Message = "scripted failure"
	}
	left := r.Times
	if left <= 0 {
		left = -1
	}
	s.rejects[cmd] = &rejection{reply: r, left: left}
}

// reject returns the scripted error for cmd (and address, for RCPT), if
// any, and counts it down.
func (s *SMTPServer) reject(cmd SMTPCommand, address string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rejects[cmd]
	if !ok {
		return nil
	}
	if r.reply.Address != "" && !strings.EqualFold(r.reply.Address, address) {
		return nil
	}
	if r.left > 0 {
		r.left--
		if r.left == 0 {
			delete(s.rejects, cmd)
		}
	}
	return &smtp.SMTPError{Code: r.reply.Code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: r.reply.Message}
}

// Messages returns a copy of every message accepted so far, in order.
func (s *SMTPServer) Messages() []SMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMessage(nil), s.messages...)
}

// Len returns how many messages the server has accepted.
func (s *SMTPServer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.messages)
}

// Sessions returns how many SMTP sessions reached EHLO/HELO (a STARTTLS
// upgrade starts a new one).
func (s *SMTPServer) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Connections returns how many TCP connections the server accepted.
func (s *SMTPServer) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// Reset forgets the messages recorded so far.
func (s *SMTPServer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = nil
}

// WaitFor waits until the server has accepted at least n messages, or
// timeout has passed, and returns the messages accepted so far. The error
// says how many arrived when fewer than n did.
func (s *SMTPServer) WaitFor(n int, timeout time.Duration) ([]SMTPMessage, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.messages) >= n {
			msgs := append([]SMTPMessage(nil), s.messages...)
			s.mu.Unlock()
			return msgs, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			msgs := s.Messages()
			if len(msgs) >= n {
				return msgs, nil
			}
			return msgs, fmt.Errorf("smtp peer: got %d messages after %s, want %d", len(msgs), timeout, n)
		}
	}
}

// Close stops the server, drops open connections and waits for them to
// finish. It is called automatically when the test ends; calling it again
// does nothing.
func (s *SMTPServer) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	open := make([]*trackedConn, 0, len(s.open))
	for c := range s.open {
		open = append(open, c)
	}
	s.mu.Unlock()

	if s.srv != nil {
		_ = s.srv.Close()
	}
	// Close the listener and every connection here too: go-smtp only knows
	// the ones it has registered, and a muted server has no go-smtp at all.
	_ = s.ln.Close()
	for _, c := range open {
		_ = c.Close()
	}
	<-s.served
	s.conns.Wait()
}

func (s *SMTPServer) record(m SMTPMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

// acceptMuted holds every connection open without a word until Close
// closes them.
func (s *SMTPServer) acceptMuted() {
	defer close(s.served)
	for {
		if _, err := s.ln.Accept(); err != nil {
			return
		}
	}
}

// countingListener counts accepted connections and keeps track of the
// open ones, so that Close can close them all and wait until it has.
type countingListener struct {
	net.Listener
	s *SMTPServer
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, s: l.s}
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.s.connections++
	l.s.open[tc] = struct{}{}
	l.s.conns.Add(1)
	return tc, nil
}

type trackedConn struct {
	net.Conn
	s    *SMTPServer
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.open, c)
		c.s.mu.Unlock()
		c.s.conns.Done()
	})
	return err
}

// smtpLogger forwards go-smtp's internal errors to the test log while the
// server is open.
type smtpLogger struct{ s *SMTPServer }

func (l smtpLogger) Printf(format string, v ...any) { l.log(fmt.Sprintf(format, v...)) }
func (l smtpLogger) Println(v ...any)               { l.log(fmt.Sprintln(v...)) }

func (l smtpLogger) log(msg string) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if !l.s.closed {
		l.s.t.Logf("smtp peer: %s", strings.TrimSpace(msg))
	}
}

type smtpBackend struct{ s *SMTPServer }

func (b smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.mu.Lock()
	b.s.sessions++
	b.s.mu.Unlock()
	_, isTLS := c.TLSConnectionState()
	return &smtpSession{s: b.s, tls: isTLS}, nil
}

// smtpSession is one SMTP session; go-smtp calls it from the
// connection's goroutine only.
type smtpSession struct {
	s    *SMTPServer
	tls  bool
	user string
	from string
	to   []string
}

func (ss *smtpSession) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	if len(ss.s.opts.Mechanisms) == 0 {
		return []string{sasl.Plain}
	}
	return ss.s.opts.Mechanisms
}

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		if err := ss.s.reject(SMTPAuth, ""); err != nil {
			return err
		}
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error {
			return check(username, password)
		}), nil
	case sasl.Login:
		return &smtpLoginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	if err := ss.s.reject(SMTPMail, from); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.s.reject(SMTPRcpt, to); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.s.reject(SMTPData, ""); err != nil {
		return err
	}
	m := SMTPMessage{
		From:     ss.from,
		To:       append([]string(nil), ss.to...),
		Data:     data,
		User:     ss.user,
		TLS:      ss.tls,
		Received: time.Now(),
	}
	if msg, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		m.Header = msg.Header
	}
	ss.s.record(m)
	return nil
}

func (ss *smtpSession) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *smtpSession) Logout() error { return nil }

// smtpLoginServer is the server side of the LOGIN mechanism, which
// go-sasl only implements for clients.
type smtpLoginServer struct {
	step     int
	username string
	check    func(username, password string) error
}

func (l *smtpLoginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		if response == nil {
			l.step = 1
			return []byte("Username:"), false, nil
		}
		l.username = string(response) // initial response carries the username
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.username, string(response))
	}
}

// smtpCertificate makes a CA and a server certificate it signed, valid for
// 127.0.0.1, ::1 and localhost.
func smtpCertificate() (caPEM []byte, cert tls.Certificate, err error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "switchboard test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, cert, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, cert, err
	}
	cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), cert, nil
}
