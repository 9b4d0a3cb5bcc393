package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// channelForm is the channel editor's form, as strings.
type channelForm struct {
	Original, Name, Kind                                         string
	SlackToken, SlackChannel, SlackWebhookURL                    string
	EmailHost, EmailPort, EmailUsername, EmailPassword, EmailTLS string
	EmailFrom, EmailTo, EmailCc, EmailSubject                    string
	HTTPURL, HTTPMethod, HTTPSigningSecret, HTTPHeaders          string
	Timeout, Concurrency, Rate, MaxAttempts, MaxAge              string
}

func (u *UI) channelData(r *http.Request, f channelForm, problem string, errs []apiError) map[string]any {
	title := "New channel"
	if f.Original != "" {
		title = "Edit channel " + f.Original
	}
	return map[string]any{
		"Title": title, "Form": f, "Problem": problem, "Errors": errs,
		"Kinds": []string{"slack", "email", "http"}, "TLS": []string{"starttls", "tls", "none"},
		"Methods": []string{"POST", "PUT", "PATCH"}, "Writable": u.api.writable(r.Context()),
	}
}

// channelPage shows the form, filled from the rules file when editing.
func (u *UI) channelPage(w http.ResponseWriter, r *http.Request) {
	f := channelForm{Kind: "slack", EmailTLS: "starttls", HTTPMethod: "POST"}
	if name := r.PathValue("name"); name != "" {
		rep, err := u.api.call(r.Context(), http.MethodGet, "/api/v1/channels", "", nil)
		var out struct {
			Channels []struct {
				Name     string         `json:"name"`
				Kind     string         `json:"kind"`
				Settings map[string]any `json:"settings"`
			} `json:"channels"`
		}
		if err != nil || !rep.ok() || json.Unmarshal(rep.Body, &out) != nil {
			http.Error(w, "cannot read the channels", http.StatusServiceUnavailable)
			return
		}
		found := false
		for _, c := range out.Channels {
			if c.Name == name {
				f, found = formOf(c.Name, c.Kind, c.Settings), true
			}
		}
		if !found {
			http.NotFound(w, r)
			return
		}
	}
	u.render(w, r, http.StatusOK, "channel", u.channelData(r, f, "", nil))
}

// formOf fills the form from a channel's settings as the API shows them.
func formOf(name, kind string, s map[string]any) channelForm {
	str := func(m map[string]any, k string) string {
		switch v := m[k].(type) {
		case nil:
			return ""
		case string:
			return v
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				parts[i] = fmt.Sprint(e)
			}
			return strings.Join(parts, ", ")
		default:
			return fmt.Sprint(v)
		}
	}
	sub := func(k string) map[string]any {
		m, _ := s[k].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		return m
	}
	f := channelForm{Original: name, Name: name, Kind: kind, EmailTLS: "starttls", HTTPMethod: "POST",
		Timeout: str(s, "timeout"), Concurrency: str(s, "concurrency"),
		Rate: str(sub("rate"), "per_second"), MaxAttempts: str(sub("retry"), "max_attempts"), MaxAge: str(sub("retry"), "max_age")}
	switch kind {
	case "slack":
		m := sub("slack")
		f.SlackToken, f.SlackChannel, f.SlackWebhookURL = str(m, "token"), str(m, "channel"), str(m, "webhook_url")
	case "email":
		m := sub("email")
		f.EmailHost, f.EmailPort, f.EmailUsername, f.EmailPassword = str(m, "host"), str(m, "port"), str(m, "username"), str(m, "password")
		f.EmailFrom, f.EmailTo, f.EmailCc, f.EmailSubject = str(m, "from"), str(m, "to"), str(m, "cc"), str(m, "subject")
		if t := str(m, "tls"); t != "" {
			f.EmailTLS = t
		}
	case "http":
		m := sub("http")
		f.HTTPURL, f.HTTPSigningSecret = str(m, "url"), str(m, "signing_secret")
		if v := str(m, "method"); v != "" {
			f.HTTPMethod = v
		}
		if h, ok := m["headers"].(map[string]any); ok {
			keys := make([]string, 0, len(h))
			for k := range h {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var lines []string
			for _, k := range keys {
				lines = append(lines, k+": "+fmt.Sprint(h[k]))
			}
			f.HTTPHeaders = strings.Join(lines, "\n")
		}
	}
	return f
}

// saveChannel writes the channel through PUT /api/v1/channels/{name},
// which validates it and keeps secrets to ${VAR} references.
func (u *UI) saveChannel(w http.ResponseWriter, r *http.Request) {
	get := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := channelForm{
		Original: get("original"), Name: get("name"), Kind: get("kind"),
		SlackToken: get("slack_token"), SlackChannel: get("slack_channel"), SlackWebhookURL: get("slack_webhook_url"),
		EmailHost: get("email_host"), EmailPort: get("email_port"), EmailUsername: get("email_username"),
		EmailPassword: get("email_password"), EmailTLS: get("email_tls"), EmailFrom: get("email_from"),
		EmailTo: get("email_to"), EmailCc: get("email_cc"), EmailSubject: get("email_subject"),
		HTTPURL: get("http_url"), HTTPMethod: get("http_method"), HTTPSigningSecret: get("http_signing_secret"),
		HTTPHeaders: r.PostFormValue("http_headers"),
		Timeout:     get("timeout"), Concurrency: get("concurrency"), Rate: get("rate"),
		MaxAttempts: get("max_attempts"), MaxAge: get("max_age"),
	}
	body, errs := f.body()
	if len(errs) > 0 {
		u.render(w, r, http.StatusUnprocessableEntity, "channel", u.channelData(r, f, "The channel cannot be saved.", errs))
		return
	}
	target := f.Original
	if target == "" {
		target = f.Name
	}
	rep, err := u.api.call(r.Context(), http.MethodPut, "/api/v1/channels/"+url.PathEscape(target), "", body)
	switch {
	case err != nil:
		u.render(w, r, http.StatusServiceUnavailable, "channel", u.channelData(r, f, err.Error(), nil))
	case !rep.ok():
		msg := rep.Message
		if msg == "" {
			msg = writeProblem(rep)
		}
		u.render(w, r, http.StatusUnprocessableEntity, "channel", u.channelData(r, f, msg, rep.Errors))
	default:
		http.Redirect(w, r, "/ui/channels?saved="+url.QueryEscape(f.Name), http.StatusSeeOther)
	}
}

// body is the PUT body for the form's kind; only that kind's fields are
// sent.
func (f channelForm) body() (map[string]any, []apiError) {
	var errs []apiError
	fail := func(field, msg string) { errs = append(errs, apiError{Field: field, Message: msg}) }
	out := map[string]any{"name": f.Name}
	set := func(m map[string]any, k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	num := func(field, v string, float bool) any {
		if v == "" {
			return nil
		}
		if float {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || n < 0 {
				fail(field, "must be a number")
			}
			return n
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fail(field, "must be a whole number")
		}
		return n
	}
	list := func(v string) []string {
		var out []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	set(out, "timeout", f.Timeout)
	if n := num("concurrency", f.Concurrency, false); n != nil {
		out["concurrency"] = n
	}
	if n := num("rate", f.Rate, true); n != nil {
		out["rate"] = map[string]any{"per_second": n}
	}
	retry := map[string]any{}
	if n := num("retry.max_attempts", f.MaxAttempts, false); n != nil {
		retry["max_attempts"] = n
	}
	set(retry, "max_age", f.MaxAge)
	if len(retry) > 0 {
		out["retry"] = retry
	}
	k := map[string]any{}
	switch f.Kind {
	case "slack":
		set(k, "token", f.SlackToken)
		set(k, "channel", f.SlackChannel)
		set(k, "webhook_url", f.SlackWebhookURL)
	case "email":
		set(k, "host", f.EmailHost)
		if n := num("email.port", f.EmailPort, false); n != nil {
			k["port"] = n
		}
		set(k, "username", f.EmailUsername)
		set(k, "password", f.EmailPassword)
		set(k, "tls", f.EmailTLS)
		set(k, "from", f.EmailFrom)
		if to := list(f.EmailTo); len(to) > 0 {
			k["to"] = to
		}
		if cc := list(f.EmailCc); len(cc) > 0 {
			k["cc"] = cc
		}
		set(k, "subject", f.EmailSubject)
	case "http":
		set(k, "url", f.HTTPURL)
		set(k, "method", f.HTTPMethod)
		set(k, "signing_secret", f.HTTPSigningSecret)
		headers := map[string]any{}
		for i, line := range strings.Split(f.HTTPHeaders, "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			name, value, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(name) == "" {
				fail("http.headers", fmt.Sprintf("line %d: write Name: value", i+1))
				continue
			}
			headers[strings.TrimSpace(name)] = strings.TrimSpace(value)
		}
		if len(headers) > 0 {
			k["headers"] = headers
		}
	default:
		fail("kind", "choose slack, email or http")
	}
	out[f.Kind] = k
	return out, errs
}
