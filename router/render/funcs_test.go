package render

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestMoney(t *testing.T) {
	tests := []struct {
		name     string
		cents    any
		currency string
		want     string
	}{
		{"dollars with grouping", 1234567, "USD", "$12,345.67"},
		{"euros", 999, "EUR", "€9.99"},
		{"zero-decimal yen", 1200, "JPY", "¥1,200"},
		{"three-decimal dinar", 1234, "BHD", "BHD 1.234"},
		{"negative", -500, "USD", "-$5.00"},
		{"negative without symbol", -1234, "KWD", "-KWD 1.234"},
		{"unknown currency", 1234, "XYZ", "XYZ 12.34"},
		{"lower-case code", 100, " gbp ", "£1.00"},
		{"no currency", 1234, "", "12.34"},
		{"zero", 0, "USD", "$0.00"},
		{"less than one unit", 5, "USD", "$0.05"},
		{"four decimals", 12345, "CLF", "CLF 1.2345"},
		{"millions", 123456789012, "USD", "$1,234,567,890.12"},
		{"float64 from JSON", 1500000.0, "USD", "$15,000.00"},
		{"float64 is rounded", 1234.6, "USD", "$12.35"},
		{"int64", int64(999), "EUR", "€9.99"},
		{"uint8", uint8(7), "USD", "$0.07"},
		{"json.Number", json.Number("1234567"), "USD", "$12,345.67"},
		{"json.Number with a fraction", json.Number("99.4"), "USD", "$0.99"},
		{"numeric string", "1200", "JPY", "¥1,200"},
		{"numeric string with spaces", " -250 ", "CAD", "-CA$2.50"},
		{"min int64", int64(math.MinInt64), "JPY", "-¥9,223,372,036,854,775,808"},
		{"max uint64", uint64(math.MaxUint64), "USD", "$184,467,440,737,095,516.15"},
		{"beyond int64", 1e21, "USD", "$10,000,000,000,000,000,000.00"},
		{"negative rounding", -0.4, "USD", "$0.00"},
		{"large numeric string", "123456789012345678901", "EUR", "€1,234,567,890,123,456,789.01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Money(tt.cents, tt.currency)
			if err != nil || got != tt.want {
				t.Fatalf("Money(%v, %q) = %q, %v; want %q", tt.cents, tt.currency, got, err, tt.want)
			}
		})
	}
}

func TestMoneyErrors(t *testing.T) {
	tests := []struct {
		name  string
		cents any
		want  string
	}{
		{"null", nil, "money: the amount is null"},
		{"text", "abc", `money: "abc" is not a number`},
		{"boolean", true, "money: the amount is a boolean, not a number"},
		{"object", map[string]any{}, "money: the amount is an object, not a number"},
		{"list", []any{1}, "money: the amount is a list, not a number"},
		{"NaN", math.NaN(), "money: the amount is not a finite number"},
		{"infinite", math.Inf(-1), "money: the amount is not a finite number"},
		{"infinite string", "1e999", `money: "1e999" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Money(tt.cents, "USD")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %q, %v; want error %q", got, err, tt.want)
			}
		})
	}
}

// TestMoneyInTemplates: both argument orders, lenient currencies, and a
// missing amount renders empty.
func TestMoneyInTemplates(t *testing.T) {
	data := decode(t, `{"c": 1500000, "cur": "EUR", "s": "250", "weird": {"a": 1}}`)
	tests := []struct {
		name, src, want string
	}{
		{"cents currency", `{{ money .c .cur }}`, "€15,000.00"},
		{"piped cents", `{{ .c | money .cur }}`, "€15,000.00"},
		{"piped cents, missing currency", `{{ .c | money .nope }}`, "15,000.00"},
		{"numeric string", `{{ money .s "JPY" }}`, "¥250"},
		{"constant", `{{ money 1234 "BHD" }}`, "BHD 1.234"},
		{"currency that is not text", `{{ money .c .weird }}`, "15,000.00"},
		{"missing amount", `[{{ money .nope .cur }}][{{ .nope | money .cur }}]`, "[][]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRender(t, tt.src, Plain, data); got != tt.want {
				t.Errorf("%s: got %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

// TestTimeHelpers: hours_since and friends read Lago timestamps (with
// fractional seconds, offsets, or a bare date) and return whole units,
// truncated toward zero, against Options.Now.
func TestTimeHelpers(t *testing.T) {
	// testNow is 2024-03-10T12:00:00Z.
	tests := []struct {
		name, src, want string
	}{
		{"hours since", `{{ hours_since "2024-03-10T09:30:00Z" }}`, "2"},
		{"hours since, fractional seconds", `{{ hours_since "2024-03-09T12:00:00.999999Z" }}`, "23"},
		{"hours since, offset", `{{ hours_since "2024-03-10T12:00:00+02:00" }}`, "2"},
		{"hours until", `{{ hours_until "2024-03-11T00:00:00Z" }}`, "12"},
		{"days since", `{{ days_since "2024-03-01T12:00:00Z" }}`, "9"},
		{"days until, date only", `{{ days_until "2024-04-04" }}`, "24"},
		{"days until in the past", `{{ days_until "2024-03-08T12:00:00Z" }}`, "-2"},
		{"missing timestamp", `[{{ hours_since .nope }}][{{ days_until "" }}]`, "[][]"},
		{"usable in comparisons", `{{ if gt (days_since "2024-01-01T00:00:00Z") 30 }}overdue{{ end }}`, "overdue"},
		{"unix seconds", `{{ hours_since 1710072000 }}`, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRender(t, tt.src, Plain, nil); got != tt.want {
				t.Errorf("%s: got %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

// TestDateHelpers: Sprig's names, but reading Lago timestamps, printing a
// missing date as "" (never the current time) and formatting in UTC.
func TestDateHelpers(t *testing.T) {
	data := decode(t, `{"created_at": "2024-03-05T23:34:56+02:00", "due": "2024-04-04", "epoch": 1709683200}`)
	tests := []struct {
		name, src, want string
	}{
		{"date in UTC", `{{ date "2006-01-02 15:04 MST" .created_at }}`, "2024-03-05 21:34 UTC"},
		{"date of a bare date", `{{ date "Jan 2, 2006" .due }}`, "Apr 4, 2024"},
		{"date of unix seconds", `{{ date "2006-01-02" .epoch }}`, "2024-03-06"},
		{"dateInZone", `{{ dateInZone "2006-01-02 15:04" .created_at "Asia/Tokyo" }}`, "2024-03-06 06:34"},
		{"htmlDate", `{{ htmlDate .created_at }}`, "2024-03-05"},
		{"missing date is empty", `[{{ date "2006" .nope }}][{{ htmlDate .nope }}][{{ ago .nope }}]`, "[][][]"},
		{"now", `{{ now }} {{ date "2006-01-02" now }}`, "2024-03-10T12:00:00Z 2024-03-10"},
		{"ago", `{{ ago "2024-03-10T10:30:00Z" }}`, "1h30m0s"},
		{"unixEpoch", `{{ unixEpoch .due }}`, "1712188800"},
		{"dateModify", `{{ dateModify "48h" .due | date "2006-01-02" }}`, "2024-04-06"},
		{"toDate in UTC", `{{ toDate "2006-01-02" "2024-03-05" | unixEpoch }}`, "1709596800"},
		{"duration", `{{ duration 3661 }} {{ duration .epoch | trunc 3 }} {{ duration "90" }} {{ duration "1h30m" }} [{{ duration .nope }}]`, "1h1m1s 474 1m30s 1h30m0s []"},
		{"durationRound", `{{ durationRound 7200.5 }} {{ durationRound "-49h" }} {{ durationRound "2024-03-07T12:00:00Z" }} {{ durationRound 0 }}`, "2h -2d 3d 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRender(t, tt.src, Plain, data); got != tt.want {
				t.Errorf("%s: got %q, want %q", tt.src, got, tt.want)
			}
		})
	}
	if _, err := Parse("t", `{{ dateInZone "2006" "2024-01-01" "Nowhere/Else" }}`, Plain, Options{}); err != nil {
		t.Fatal(err)
	}
	tm, _ := Parse("t", `{{ dateInZone "2006" "2024-01-01" "Nowhere/Else" }}`, Plain, Options{})
	if _, err := tm.Execute(nil); err == nil || !strings.Contains(err.Error(), `unknown time zone "Nowhere/Else"`) {
		t.Fatalf("got %v", err)
	}
}

// TestJSONHelpers: toJson is safe inside JSON bodies and Slack blocks.
func TestJSONHelpers(t *testing.T) {
	data := decode(t, `{"s": "say \"hi\"\n<b>&", "n": 1500000, "obj": {"b": [1, null], "a": "x"}}`)
	tests := []struct {
		name, src, want string
	}{
		{"string", `{{ toJson .s }}`, `"say \"hi\"\n\u003cb\u003e\u0026"`},
		{"raw", `{{ toRawJson .s }}`, `"say \"hi\"\n<b>&"`},
		{"number", `{{ toJson .n }}`, `1500000`},
		{"null", `{{ toJson .nope }}`, `null`},
		{"object", `{{ toJson .obj }}`, `{"a":"x","b":[1,null]}`},
		{"pretty", `{{ toPrettyJson .obj }}`, "{\n  \"a\": \"x\",\n  \"b\": [\n    1,\n    null\n  ]\n}"},
		{"inside a Slack block", `{"type":"mrkdwn","text":{{ printf "*Note*\n%s" .s | toJson }}}`, `{"type":"mrkdwn","text":"*Note*\nsay \"hi\"\n\u003cb\u003e\u0026"}`},
		{"fromJson", `{{ (fromJson "{\"a\":{\"b\":2}}").a.b }}`, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustRender(t, tt.src, Plain, data)
			if got != tt.want {
				t.Fatalf("%s: got %q, want %q", tt.src, got, tt.want)
			}
			if strings.HasPrefix(tt.name, "inside") && !json.Valid([]byte(got)) {
				t.Fatalf("invalid JSON: %s", got)
			}
		})
	}
}

func TestRequired(t *testing.T) {
	data := decode(t, `{"empty": "", "list": [], "obj": {}, "zero": 0, "f": false, "s": "x"}`)
	tests := []struct {
		name   string
		field  string
		failed bool
	}{
		{"missing", "nope", true},
		{"empty string", "empty", true},
		{"empty list", "list", true},
		{"empty object", "obj", true},
		{"zero is a value", "zero", false},
		{"false is a value", "f", false},
		{"text", "s", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := Parse("t", `{{ required "need it" .`+tt.field+` }}`, Plain, Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = tm.Execute(data)
			if failed := err != nil; failed != tt.failed {
				t.Fatalf("error = %v", err)
			}
			if tt.failed && !strings.HasSuffix(err.Error(), "required: need it") {
				t.Fatalf("error = %v", err)
			}
		})
	}
}

// TestSprigHelpers: a sample of the allow-listed helpers, with JSON data.
func TestSprigHelpers(t *testing.T) {
	data := decode(t, `{"s": "  Hello World  ", "list": ["b", "a", "b", null], "m": {"z": 1, "a": 2}, "n": 7, "id": "cus_12345"}`)
	tests := []struct {
		name, src, want string
	}{
		{"strings", `{{ trim .s | upper }}|{{ trunc 7 (trim .s) }}|{{ replace "World" "There" .s | trim }}|{{ title "ab cd" }}`, "HELLO WORLD|Hello W|Hello There|Ab Cd"},
		{"prefixes", `{{ trimPrefix "cus_" .id }} {{ hasPrefix "cus_" .id }} {{ contains "123" .id }}`, "12345 true true"},
		{"lists", `{{ .list | compact | uniq | sortAlpha | join "," }} {{ first .list }} {{ last (compact .list) }} {{ has "a" .list }}`, "a,b b b true"},
		{"keys are sorted", `{{ keys .m | join "," }} {{ values .m }}`, "a,z [2,1]"},
		{"dict and get", `{{ $d := dict "k" .n }}{{ get $d "k" }} {{ hasKey .m "z" }} {{ pluck "a" .m (dict "a" 3) }}`, "7 true [2,3]"},
		{"math with JSON numbers", `{{ add .n 1 }} {{ mul .n 2 }} {{ mod .n 4 }} {{ max .n 3 10 }} {{ floor 2.7 }} {{ ceil 2.1 }}`, "8 14 3 10 2 3"},
		{"ternary and coalesce", `{{ ternary "yes" "no" (gt .n 5) }} {{ coalesce .nope "" "c" }} {{ empty .nope }}`, "yes c true"},
		{"plural with a float", `{{ plural "fee" "fees" .n }}`, "fees"},
		{"encodings", `{{ b64enc "hi" }} {{ b64dec "aGk=" }} {{ sha256sum "a" | trunc 8 }}`, "aGk= hi ca978112"},
		{"regex", `{{ regexMatch "^cus_[0-9]+$" .id }} {{ regexReplaceAll "[0-9]" .id "#" }} {{ regexFind "[0-9]+" .id }}`, "true cus_##### 12345"},
		{"split", `{{ (split "_" .id)._1 }} {{ splitList "_" .id }}`, `12345 ["cus","12345"]`},
		{"indent", `{{ indent 2 "a\nb" }}|{{ nindent 1 "c" }}`, "  a\n  b|\n c"},
		{"repeat", `{{ repeat 3 "ab" }}`, "ababab"},
		{"kinds", `{{ kindOf .n }} {{ kindIs "string" .id }} {{ typeOf .m }}`, "float64 true map[string]interface {}"},
		{"mrkdwn of nil", `[{{ mrkdwn .nope }}]`, "[]"},
		{"lagoObject and eventType", `{{ (lagoObject (dict "object_type" "fee" "fee" (dict "lago_id" "x"))).lago_id }} {{ eventType (dict "type" "order.paid") }}`, "x order.paid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRender(t, tt.src, Plain, data); got != tt.want {
				t.Errorf("%s\n got %q\nwant %q", tt.src, got, tt.want)
			}
		})
	}
}

// TestNowIsTheOptionsClock: now and the relative helpers read Options.Now,
// so the same template and message render the same text.
func TestNowIsTheOptionsClock(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tm, err := Parse("t", `{{ now }} {{ hours_since "2030-01-01T03:04:05Z" }}`, Plain, Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got, err := tm.Execute(nil); err != nil || got != "2030-01-02T03:04:05Z 24" {
			t.Fatalf("got %q, %v", got, err)
		}
	}
}

func TestLagoObjectAndEventType(t *testing.T) {
	tests := []struct {
		name      string
		msg       string
		object    bool
		eventType string
	}{
		{"lago", `{"webhook_type":"invoice.created","object_type":"invoice","invoice":{"number":"1"}}`, true, "invoice.created"},
		{"object missing", `{"webhook_type":"invoice.created","object_type":"invoice"}`, false, "invoice.created"},
		{"object not an object", `{"object_type":"wallet","wallet":[1,2]}`, false, ""},
		{"object_type not text", `{"object_type":5,"5":{}}`, false, ""},
		{"generic type", `{"type":"order.paid"}`, false, "order.paid"},
		{"generic event", `{"event":"push","type":""}`, false, "push"},
		{"event_type", `{"event_type":"x.y","webhook_type":null}`, false, "x.y"},
		{"none", `{"hello":"world"}`, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := decode(t, tt.msg)
			if got := lagoObject(m) != nil; got != tt.object {
				t.Errorf("lagoObject found %v", got)
			}
			if got := eventType(m); got != tt.eventType {
				t.Errorf("eventType = %q", got)
			}
		})
	}
	if lagoObject("x") != nil || eventType(nil) != "" {
		t.Error("non-objects must give nothing")
	}
}
