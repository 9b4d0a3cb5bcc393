package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// Session limits.
const (
	sessionCookie = "switchboard_session"
	sessionTTL    = 12 * time.Hour
	// maxSessions bounds memory: logging in past it drops the session
	// closest to expiry.
	maxSessions = 1000
)

// session is a logged-in browser. The cookie holds only its random ID.
type session struct {
	csrf    string
	expires time.Time
}

// sessions maps session IDs (hashed) to sessions, in memory: a restart
// logs everyone out, which is fine for an admin tool.
type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]session
	now func() time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{m: map[[32]byte]session{}, now: now}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// create starts a session and returns its ID.
func (s *sessions) create() (id string, sess session) {
	id = randomHex(32)
	sess = session{csrf: randomHex(32), expires: s.now().Add(sessionTTL)}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	if len(s.m) >= maxSessions {
		var oldest [32]byte
		var first time.Time
		for k, v := range s.m {
			if first.IsZero() || v.expires.Before(first) {
				oldest, first = k, v.expires
			}
		}
		delete(s.m, oldest)
	}
	s.m[sha256.Sum256([]byte(id))] = sess
	return id, sess
}

// get returns the live session of r, if any.
func (s *sessions) get(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, false
	}
	k := sha256.Sum256([]byte(c.Value))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[k]
	if !ok {
		return session{}, false
	}
	if s.now().After(sess.expires) {
		delete(s.m, k)
		return session{}, false
	}
	return sess, true
}

// end removes r's session.
func (s *sessions) end(r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.mu.Lock()
		delete(s.m, sha256.Sum256([]byte(c.Value)))
		s.mu.Unlock()
	}
}

// validCSRF reports whether r carries the session's CSRF token, in the
// X-CSRF-Token header (htmx) or the csrf form field (plain forms).
func validCSRF(r *http.Request, sess session) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}

// sameOrigin rejects cross-site form posts that carry an Origin header
// naming another host (the login form has no session to tie a token to).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == ""
	}
	return o == "http://"+r.Host || o == "https://"+r.Host
}
