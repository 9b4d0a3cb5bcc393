package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// unmatchedWindows are the windows the Unmatched page offers.
var unmatchedWindows = []string{"24h", "7d", "30d"}

// unmatchedType is one webhook type of GET /api/v1/unmatched's answer.
type unmatchedType struct {
	Type      string    `json:"type"`
	Source    string    `json:"source"`
	Count     int       `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	ExampleID string    `json:"example_id"`
}

// CreateURL is the rule builder prefilled for messages of this type.
func (t unmatchedType) CreateURL() string {
	q := url.Values{}
	q.Set("type", t.Type)
	return "/ui/rules/new?" + q.Encode()
}

// unmatchedPage answers GET /ui/unmatched?since=24h: the received
// messages no rule matches, counted by type, each with a link to the
// builder prefilled for its type.
func (u *UI) unmatchedPage(w http.ResponseWriter, r *http.Request) {
	since := r.URL.Query().Get("since")
	if !slices.Contains(unmatchedWindows, since) {
		since = unmatchedWindows[0]
	}
	data := map[string]any{"Title": "Unmatched messages", "Since": since, "Windows": unmatchedWindows}
	rep, err := u.api.call(r.Context(), http.MethodGet, "/api/v1/unmatched?since="+since, "", nil)
	switch {
	case err != nil:
		data["Problem"] = "The unmatched messages cannot be counted right now: " + err.Error()
	case rep.Code == http.StatusGatewayTimeout:
		data["Problem"] = "Counting took too long: choose a shorter window."
	case !rep.ok():
		data["Problem"] = "The unmatched messages cannot be counted right now (" + strconv.Itoa(rep.Code) + " " + cmpOr(rep.Message, http.StatusText(rep.Code)) + ")."
	default:
		var out struct {
			Messages  int             `json:"messages"`
			Unmatched int             `json:"unmatched"`
			Types     []unmatchedType `json:"types"`
		}
		if err := json.Unmarshal(rep.Body, &out); err != nil {
			data["Problem"] = "The answer is unreadable: " + err.Error()
			break
		}
		data["Messages"], data["Unmatched"], data["Types"] = out.Messages, out.Unmatched, out.Types
	}
	u.render(w, r, http.StatusOK, "unmatched", data)
}

// prefill starts a new rule for the webhook type of ?type= (from the
// Unmatched page): the guided builder for a type Lago documents, else an
// expression on webhook_type; Try it uses the Lago example, else the
// received messages.
func (u *UI) prefill(e *editorForm, r *http.Request) {
	typ := r.URL.Query().Get("type")
	if typ == "" || e.Original != "" {
		return
	}
	e.Name = slug(typ)
	if _, ok := u.o.Catalog.Type(typ); ok {
		e.Mode, e.Type, e.TryExample = modeGuided, typ, typ
		return
	}
	e.Mode, e.When, e.TrySource = modeExpr, "webhook_type == "+strconv.Quote(typ), "recent"
}

// slug makes a rule name from a webhook type: invoice.created → invoice-created.
func slug(typ string) string {
	b := []byte(typ)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	return string(b)
}
