package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/admission"
	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/lago/fields"
	"github.com/switchboard-dev/switchboard/internal/secret"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configure the editor.
type Options struct {
	// Token is the admin token the login form takes; empty turns /ui/
	// off (404), like the admin API.
	Token secret.String
	// API is the admin API the editor reads and writes everything
	// through (in the server, InProcess over its own mux).
	API     Admin
	Catalog *lago.Catalog
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RecentMessages is how many received messages "Try it" offers
	// (default 20).
	RecentMessages int
	// Failures, if set, throttles clients that get the token wrong at
	// login (shared with the admin API).
	Failures *admission.AuthFailures
}

// UI serves the rule editor.
type UI struct {
	o         Options
	tokenHash [32]byte
	sessions  *sessions
	api       *backend
	pages     map[string]*template.Template
	static    http.Handler
	schema    *fields.Schema // the Lago field schema the rule builder offers
}

// New returns the editor. It fails only if its embedded templates do not
// parse. Without a token the editor is off and parses nothing.
func New(o Options) (*UI, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RecentMessages == 0 {
		o.RecentMessages = 20
	}
	u := &UI{
		o: o, tokenHash: sha256.Sum256([]byte(o.Token.Reveal())), sessions: newSessions(o.Now),
		api: &backend{admin: o.API},
	}
	// Without a token every page answers 404 (off): the pages and the
	// field schema, a few megabytes, would never be used.
	if !o.Token.IsZero() {
		u.schema = fields.New(o.Catalog)
		if err := u.parseTemplates(); err != nil {
			return nil, err
		}
	}
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	u.static = http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	return u, nil
}

// Register adds the /ui/ routes to mux.
func (u *UI) Register(mux *http.ServeMux) {
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, u.guard(f)) }
	mux.Handle("GET /ui/static/", u.off(u.static))
	mux.Handle("GET /ui/login", u.off(http.HandlerFunc(u.loginPage)))
	mux.Handle("POST /ui/login", u.off(http.HandlerFunc(u.login)))
	h("POST /ui/logout", u.logout)
	h("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/rules", http.StatusSeeOther) })
	h("GET /ui/rules", u.rulesPage)
	h("POST /ui/rules/{name}/toggle", u.toggleRule)
	h("POST /ui/rules/{name}/delete", u.deleteRule)
	h("GET /ui/rules/new", u.editorPage)
	h("GET /ui/rules/{name}/edit", u.editorPage)
	h("POST /ui/editor/condition", u.conditionFragment)
	h("POST /ui/editor/built", u.builtFragment)
	h("POST /ui/editor/actions", u.actionsFragment)
	h("POST /ui/editor/check", u.checkFragment)
	h("POST /ui/editor/try", u.tryFragment)
	h("POST /ui/editor/send-test", u.sendTest)
	h("POST /ui/editor/save", u.save)
	h("POST /ui/editor/backtest", u.backtestFragment)
	h("POST /ui/backtest/rule", u.ruleBacktest)
	h("GET /ui/unmatched", u.unmatchedPage)
	h("GET /ui/history", u.historyPage)
	h("POST /ui/history/{id}/restore", u.restore)
	h("GET /ui/history/{id}/diff", u.historyDiff)
	h("GET /ui/channels", u.channelsPage)
	h("GET /ui/channels/new", u.channelPage)
	h("GET /ui/channels/{name}/edit", u.channelPage)
	h("POST /ui/channels/save", u.saveChannel)
	h("GET /ui/deliveries", u.deliveriesPage)
	h("POST /ui/deliveries/{id}/replay", u.replay)
	h("POST /ui/deliveries/replay", u.bulkReplay)
	h("GET /ui/deliveries/replay/count", u.bulkReplayCount)
	h("GET /ui/deliveries/{id}", u.deliveryPage)
	h("GET /ui/silences", u.silencesPage)
	h("POST /ui/silences", u.addSilence)
	h("POST /ui/silences/{id}/expire", u.expireSilence)
	mux.Handle("/ui/", u.off(http.NotFoundHandler()))
	// Exactly /ui, which the mux would otherwise redirect to /ui/ even
	// with the editor off.
	mux.Handle("/ui", u.off(http.RedirectHandler("/ui/", http.StatusSeeOther)))
}

// off answers 404 to everything when no admin token is configured, and
// sets the headers every editor response carries.
func (u *UI) off(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.o.Token.IsZero() {
			http.NotFound(w, r)
			return
		}
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer browsers send
		// "Origin: null" on form posts, and sameOrigin needs the real one.
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// guard requires a session, and on every state-changing request the
// session's CSRF token and a same-origin Origin header.
func (u *UI) guard(next http.HandlerFunc) http.Handler {
	return u.off(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := u.sessions.get(r)
		if !ok {
			if r.Header.Get("HX-Request") != "" {
				w.Header().Set("HX-Redirect", "/ui/login")
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 4<<20)
			if !sameOrigin(r) || !validCSRF(r, sess) {
				http.Error(w, "invalid or missing CSRF token: reload the page", http.StatusForbidden)
				return
			}
		}
		next(w, r.WithContext(withSession(r.Context(), sess)))
	}))
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := u.sessions.get(r); ok {
		http.Redirect(w, r, "/ui/rules", http.StatusSeeOther)
		return
	}
	u.render(w, r, http.StatusOK, "login", map[string]any{"Title": "Log in"})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !sameOrigin(r) {
		http.Error(w, "cross-site login refused", http.StatusForbidden)
		return
	}
	client := admission.Client(r.RemoteAddr)
	if ok, wait := u.o.Failures.Allowed(client); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
		u.render(w, r, http.StatusTooManyRequests, "login", map[string]any{"Title": "Log in",
			"Error": "Too many wrong tokens from this address: wait a few seconds and try again."})
		return
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(r.PostFormValue("token"))))
	if subtle.ConstantTimeCompare(got[:], u.tokenHash[:]) != 1 {
		u.o.Failures.Failed(client)
		u.o.Logger.Warn("admin authentication failed", "client", client, "method", r.Method, "path", r.URL.Path)
		u.render(w, r, http.StatusUnauthorized, "login", map[string]any{"Title": "Log in", "Error": "That is not the admin token."})
		return
	}
	id, _ := u.sessions.create()
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/ui/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, "/ui/rules", http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	u.sessions.end(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/ui/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// templateNames lists the files of the templates directory, for the
// editor's template picker; none when the API cannot say.
func (u *UI) templateNames(ctx context.Context) []string {
	names, err := u.api.templates(ctx)
	if err != nil {
		u.o.Logger.Warn("editor: list templates", "error", err)
	}
	return names
}
