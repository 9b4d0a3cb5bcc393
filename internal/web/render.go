package web

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/fatigue"
)

type ctxKey struct{}

func withSession(ctx context.Context, s session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

func sessionOf(ctx context.Context) session {
	s, _ := ctx.Value(ctxKey{}).(session)
	return s
}

// pageNames are the full pages; each file defines "title" and "content".
var pageNames = []string{"login", "rules", "editor", "history", "channels", "deliveries", "silences", "channel", "unmatched", "delivery"}

func (u *UI) parseTemplates() error {
	funcs := template.FuncMap{
		// pathEscape makes a name one path segment of a URL the page
		// builds: "../history/1/restore?x=" cannot turn a toggle into
		// another action.
		"pathEscape": url.PathEscape,
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			d := u.o.Now().Sub(t).Round(time.Second)
			switch {
			case d < time.Minute:
				return fmt.Sprintf("%ds ago", int(d.Seconds()))
			case d < time.Hour:
				return fmt.Sprintf("%dm ago", int(d.Minutes()))
			case d < 48*time.Hour:
				return fmt.Sprintf("%dh ago", int(d.Hours()))
			}
			return fmt.Sprintf("%dd ago", int(d.Hours()/24))
		},
		"stamp": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		// iso is t for a <time datetime>, which static/localtime.js
		// shows in the browser's time zone.
		"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"join":        strings.Join,
		"fieldSpot":   fieldSpot,
		"fieldLabel":  fieldLabel,
		"unprefix":    unprefix,
		"fieldErrors": fieldErrors,
		"reasonText":  fatigue.ReasonText,
		"add":         func(a, b int) int { return a + b },
		"caret":       func(col int) string { return strings.Repeat(" ", max(0, col-1)) + "^" },
		"deref":       func(b *bool) bool { return b != nil && *b },
		"isnil":       func(b *bool) bool { return b == nil },
		"checkData":   func(c any, when string) map[string]any { return map[string]any{"Check": c, "When": when} },
		"line": func(s string, n int) string {
			lines := strings.Split(s, "\n")
			if n < 1 || n > len(lines) {
				return ""
			}
			return lines[n-1]
		},
	}
	u.pages = map[string]*template.Template{}
	for _, p := range append(pageNames, "fragments") {
		files := []string{"templates/layout.html", "templates/fragments.html", "templates/backtest.html"}
		if p != "fragments" {
			files = append(files, "templates/"+p+".html")
		}
		t, err := template.New(p).Funcs(funcs).ParseFS(assets, files...)
		if err != nil {
			return fmt.Errorf("parse templates: %w", err)
		}
		u.pages[p] = t
	}
	return nil
}

// render writes a full page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, code int, page string, data map[string]any) {
	data["CSRF"] = sessionOf(r.Context()).csrf
	data["LoggedIn"] = sessionOf(r.Context()).csrf != ""
	data["Page"] = page
	u.write(w, code, u.pages[page], "layout", data)
}

// fragment writes one named fragment, for htmx swaps. Errors the user
// must see (409, 422) are fragments answered with 200, so that htmx 2,
// which does not swap 4xx/5xx responses, shows them in place.
func (u *UI) fragment(w http.ResponseWriter, name string, data any) {
	u.write(w, http.StatusOK, u.pages["fragments"], name, data)
}

func (u *UI) write(w http.ResponseWriter, code int, t *template.Template, name string, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		u.o.Logger.Error("render editor page", "template", name, "error", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}
