package web

import (
	"encoding/json"
	"testing"
)

var testKinds = []channelKind{
	{Name: "slack", Fields: []kindField{{Key: "token", Type: "text", Secret: true}, {Key: "channel", Type: "text"}}},
	{Name: "opsgenie", Fields: []kindField{{Key: "api_key", Type: "text", Secret: true}, {Key: "responders", Type: "json"},
		{Key: "tags", Type: "list"}}},
	{Name: "http", Fields: []kindField{{Key: "url", Type: "text"}, {Key: "headers", Type: "map", Secret: true},
		{Key: "allow_link_local", Type: "bool"}}},
	{Name: "email", Fields: []kindField{{Key: "max_recipients", Type: "number"}}},
}

// The form's body holds the chosen kind's block only, each key as its
// field type says; what cannot be converted is an error on its field.
func TestChannelFormBody(t *testing.T) {
	f := channelForm{Name: "og", Kind: "opsgenie", Concurrency: "2", Values: map[string]string{
		"opsgenie.api_key": " ${OG_KEY} ", "opsgenie.responders": `[{"type": "team", "name": "billing", "n": 3}]`,
		"opsgenie.tags": "a, b,,", "slack.token": "${SLACK}", "http.url": "http://x"}}
	body, errs := f.body(testKinds)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got, _ := json.Marshal(body)
	want := `{"concurrency":2,"name":"og","opsgenie":{"api_key":"${OG_KEY}","responders":[{"n":3,"name":"billing","type":"team"}],"tags":["a","b"]}}`
	if string(got) != want {
		t.Fatalf("body %s\nwant %s", got, want)
	}

	f = channelForm{Name: "crm", Kind: "http", Values: map[string]string{"http.headers": "Authorization: Bearer ${T}\n\nX-A: 1",
		"http.allow_link_local": "true"}}
	body, _ = f.body(testKinds)
	got, _ = json.Marshal(body)
	if want := `{"http":{"allow_link_local":true,"headers":{"Authorization":"Bearer ${T}","X-A":"1"}},"name":"crm"}`; string(got) != want {
		t.Fatalf("body %s\nwant %s", got, want)
	}

	for _, tc := range []struct {
		f     channelForm
		field string
	}{
		{channelForm{Kind: "opsgenie", Values: map[string]string{"opsgenie.responders": "[{"}}, "opsgenie.responders"},
		{channelForm{Kind: "http", Values: map[string]string{"http.headers": "no colon"}}, "http.headers"},
		{channelForm{Kind: "email", Values: map[string]string{"email.max_recipients": "many"}}, "email.max_recipients"},
		{channelForm{Kind: "email", Rate: "-1"}, "rate"},
		{channelForm{Kind: "carrier-pigeon"}, "kind"},
	} {
		if _, errs := tc.f.body(testKinds); len(errs) != 1 || errs[0].Field != tc.field {
			t.Errorf("%+v: errors %+v, want one on %s", tc.f, errs, tc.field)
		}
	}
}

// Editing fills the form from the settings as the API shows them.
func TestChannelFormOf(t *testing.T) {
	var settings map[string]any
	_ = json.Unmarshal([]byte(`{"timeout": "5s", "retry": {"max_attempts": 3},
		"http": {"url": "http://x/{{ .id }}", "headers": {"B": "2", "A": "${T}"}, "allow_link_local": true}}`), &settings)
	f := formOf("crm", "http", settings, testKinds)
	if f.Original != "crm" || f.Timeout != "5s" || f.MaxAttempts != "3" || f.Values["http.url"] != "http://x/{{ .id }}" ||
		f.Values["http.headers"] != "A: ${T}\nB: 2" || f.Values["http.allow_link_local"] != "true" {
		t.Fatalf("form %+v", f)
	}
	blocks := f.blocks(testKinds)
	if len(blocks) != 4 || blocks[2].Fields[1].ID != "http-headers" || blocks[2].Fields[1].Name != "f.http.headers" ||
		blocks[2].Fields[1].Value != "A: ${T}\nB: 2" || blocks[2].Fields[0].Label != "url" {
		t.Fatalf("blocks %+v", blocks)
	}
}
