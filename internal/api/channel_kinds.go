package api

import (
	"net/http"
	"reflect"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/wiring"
)

// Field types of GET /api/v1/channel-kinds: how a form takes a key.
const (
	// FieldText is one line of text (also durations, ports and URLs).
	FieldText = "text"
	// FieldNumber is a number.
	FieldNumber = "number"
	// FieldBool is true or false.
	FieldBool = "bool"
	// FieldList is a list of strings.
	FieldList = "list"
	// FieldMap is an object of strings ("Name: value" lines in a form).
	FieldMap = "map"
	// FieldJSON is any other shape (a list of objects), written as JSON.
	FieldJSON = "json"
)

// ChannelKindJSON is one channel kind as GET /api/v1/channel-kinds shows
// it: what a client needs to offer a form for it.
type ChannelKindJSON struct {
	// Name is the kind's key in a channel ("slack", "pagerduty").
	Name string `json:"name"`
	// TestRecipient is set when Send test takes a recipient (email_to).
	TestRecipient bool `json:"test_recipient"`
	// Fields are the keys of the kind's block, in the order of its
	// configuration.
	Fields []ChannelFieldJSON `json:"fields"`
}

// ChannelFieldJSON is one key of a channel kind's block.
type ChannelFieldJSON struct {
	Key string `json:"key"`
	// Type is one of FieldText, FieldNumber, FieldBool, FieldList,
	// FieldMap, FieldJSON.
	Type string `json:"type"`
	// Secret is set when the value is a credential: it takes only a
	// ${VAR} reference (for a map, each value does).
	Secret bool `json:"secret,omitempty"`
}

// channelKinds is GET /api/v1/channel-kinds: every registered channel
// kind with the keys of its block, from the kind's descriptor and its
// configuration type.
func (a *API) channelKinds(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"kinds": ChannelKinds()})
}

// ChannelKinds describes every registered channel kind, in registration
// order.
func ChannelKinds() []ChannelKindJSON {
	var out []ChannelKindJSON
	for _, k := range wiring.Kinds() {
		kj := ChannelKindJSON{Name: k.Name, TestRecipient: k.TestRecipient, Fields: []ChannelFieldJSON{}}
		// The kind's block is its descriptor's configuration type.
		var t reflect.Type
		if k.Config != nil {
			t = reflect.TypeOf(k.Config())
		}
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t != nil && t.Kind() == reflect.Struct {
			for _, f := range yamlFields(t) {
				kj.Fields = append(kj.Fields, fieldJSON(f))
			}
		}
		out = append(out, kj)
	}
	return out
}

// fieldJSON says how a form takes f.
func fieldJSON(f yamlField) ChannelFieldJSON {
	out := ChannelFieldJSON{Key: f.key, Type: FieldJSON}
	t := f.typ
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[secret.String]():
		out.Type, out.Secret = FieldText, true
		return out
	case reflect.TypeFor[secret.URL](), reflect.TypeFor[time.Duration]():
		out.Type = FieldText
		return out
	}
	switch t.Kind() {
	case reflect.String:
		out.Type = FieldText
	case reflect.Bool:
		out.Type = FieldBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		out.Type = FieldNumber
	case reflect.Struct:
		if len(yamlFields(t)) == 0 {
			out.Type = FieldText // a type with its own syntax (email port)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			out.Type = FieldList
		}
	case reflect.Map:
		if t.Key().Kind() == reflect.String && (t.Elem().Kind() == reflect.String || t.Elem() == reflect.TypeFor[secret.String]()) {
			out.Type = FieldMap
			out.Secret = t.Elem() == reflect.TypeFor[secret.String]()
		}
	}
	return out
}
