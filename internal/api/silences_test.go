package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/silence"
)

func TestSilencesAPI(t *testing.T) {
	s := newServer(t, original, nil)

	// Created: 201 with the silence and its state.
	r := s.do("POST", "/api/v1/silences", "", map[string]any{
		"rule": "payment-failed", "duration": "2h", "reason": "dunning migration", "author": "alice"})
	if r.code != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.code, r.body)
	}
	var created SilenceJSON
	r.decode(t, &created)
	if !strings.HasPrefix(created.ID, "sil-") || created.Rule != "payment-failed" || created.Reason != "dunning migration" ||
		created.Author != "alice" || created.State != "active" || created.EndsAt.Sub(created.StartsAt) != 2*time.Hour {
		t.Fatalf("created %+v", created)
	}
	// The author defaults to "api"; an expression alone is fine.
	r = s.do("POST", "/api/v1/silences", "", map[string]any{
		"when": `invoice.customer.external_id == "acme"`, "ends_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "reason": "offboarding"})
	var second SilenceJSON
	r.decode(t, &second)
	if r.code != http.StatusCreated || second.Author != "api" || second.When == "" {
		t.Fatalf("POST expression: %d %s", r.code, r.body)
	}

	// Refused, with every problem named: 422.
	for _, tc := range []struct {
		body   map[string]any
		fields []string
		msg    string
	}{
		{map[string]any{"rule": "paymnet-failed", "duration": "1h", "reason": "x"}, []string{"rule"}, `no rule named "paymnet-failed"`},
		{map[string]any{"when": "invoice.total >", "duration": "1h", "reason": "x"}, []string{"when"}, "when: 1:"},
		{map[string]any{"rule": "wallet", "duration": "1h"}, []string{"reason"}, "a reason is required"},
		{map[string]any{"rule": "wallet", "duration": "-1h", "reason": "x"}, []string{"duration"}, "a positive duration"},
		{map[string]any{"rule": "wallet", "reason": "x"}, []string{"duration"}, "give how long"},
		{map[string]any{"duration": "1h", "reason": "x"}, []string{"rule"}, "give a rule, an expression"},
		{map[string]any{"rule": "wallet", "duration": "1h", "ends_at": "2030-01-01T00:00:00Z", "reason": "x"}, []string{"duration"}, "not both"},
		{map[string]any{"rule": "nope", "when": "(", "reason": "", "duration": "x"}, []string{"rule", "when", "reason", "duration"}, ""},
	} {
		r := s.do("POST", "/api/v1/silences", "", tc.body)
		var out struct {
			Errors []ErrorDetail `json:"errors"`
		}
		r.decode(t, &out)
		if r.code != http.StatusUnprocessableEntity || len(out.Errors) != len(tc.fields) {
			t.Errorf("POST %v: %d %s", tc.body, r.code, r.body)
			continue
		}
		for i, f := range tc.fields {
			if out.Errors[i].Field != f {
				t.Errorf("POST %v: error %d is about %q, want %q", tc.body, i, out.Errors[i].Field, f)
			}
		}
		if !strings.Contains(out.Errors[0].Message, tc.msg) {
			t.Errorf("POST %v: %q does not say %q", tc.body, out.Errors[0].Message, tc.msg)
		}
	}
	if r := s.do("POST", "/api/v1/silences", "", map[string]any{"rule": "wallet", "for": "1h", "reason": "x"}); r.code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d %s", r.code, r.body)
	}

	// Listed, expired (204), then listed only with all=true.
	var list struct {
		Silences []SilenceJSON `json:"silences"`
	}
	s.do("GET", "/api/v1/silences", "", nil).decode(t, &list)
	if len(list.Silences) != 2 || list.Silences[0].ID != second.ID {
		t.Fatalf("GET: %+v", list)
	}
	if r := s.do("DELETE", "/api/v1/silences/"+created.ID, "", nil); r.code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.code, r.body)
	}
	if r := s.do("DELETE", "/api/v1/silences/sil-unknown", "", nil); r.code != http.StatusNotFound {
		t.Fatalf("DELETE unknown: %d", r.code)
	}
	s.do("GET", "/api/v1/silences", "", nil).decode(t, &list)
	if len(list.Silences) != 1 {
		t.Fatalf("after expiry: %+v", list)
	}
	s.do("GET", "/api/v1/silences?all=true", "", nil).decode(t, &list)
	if len(list.Silences) != 2 || list.Silences[1].State != "expired" {
		t.Fatalf("all=true: %+v", list)
	}
	var one SilenceJSON
	if r := s.do("GET", "/api/v1/silences/"+created.ID, "", nil); r.code != 200 {
		t.Fatalf("GET one: %d", r.code)
	} else {
		r.decode(t, &one)
	}
	if one.State != "expired" {
		t.Fatalf("expired silence state %q", one.State)
	}
}

// The test endpoint names the silence that would mute a message now.
func TestTestEndpointReportsSilence(t *testing.T) {
	s := newServer(t, original, nil)
	cache := silence.New(silence.Options{Store: s.store})
	mux := http.NewServeMux()
	New(Options{Token: secret.String(testToken), Reload: s.reload, Store: s.store, Silences: cache}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.url = srv.URL

	msg := map[string]any{"message": map[string]any{"webhook_type": "invoice.created",
		"invoice": map[string]any{"number": "INV-1", "total_amount_cents": 500000}}}
	var res TestResult
	s.do("POST", "/api/v1/test", "", msg).decode(t, &res)
	if len(res.Matches) != 1 || res.Matches[0].Deliveries[0].Decision != DecisionSend {
		t.Fatalf("before the silence: %+v", res)
	}
	r := s.do("POST", "/api/v1/silences", "", map[string]any{"rule": "big-invoice", "duration": "1h", "reason": "quarter close"})
	var sl SilenceJSON
	r.decode(t, &sl)
	s.do("POST", "/api/v1/test", "", msg).decode(t, &res)
	d := res.Matches[0].Deliveries[0]
	if d.Decision != DecisionSilence || d.Reason != "silenced by "+sl.ID+": quarter close" {
		t.Fatalf("after the silence: %+v", d)
	}
}
