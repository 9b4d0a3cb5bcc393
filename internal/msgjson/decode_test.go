package msgjson

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/switchboard-dev/switchboard/router"
)

// decodeCases are bodies whose decoding differs from the plain path:
// escapes, non-ASCII and invalid UTF-8, numbers at the grammar's edges,
// repeated keys, nesting, and inputs encoding/json refuses.
var decodeCases = []string{
	`{}`, ` {"a":1} `, `{"a":{"b":[1,2,{"c":null}],"d":[]},"e":true,"f":false}`,
	`{"s":"plain","t":"caf\u00e9 \"q\" \\ \/ \n","u":"日本語","v":"\xff\xfe bad","w":"tab\there"}`,
	`{"n":[0,-0,1.5,-2.25e3,1E-7,12345678901234567890,1e400]}`, `{"n":01}`, `{"n":1.}`, `{"n":-}`, `{"n":1e}`,
	`{"a":1,"a":2}`, `{"a":1,}`, `{"a" 1}`, `{"a":1} x`, `[1,2]`, `null`, `"s"`, ``, `{"a":tru}`, `{"a":"unterminated}`,
	`{"\u0061":"key escaped"}`, `{"a":"\ud83d\ude00 and \ud800 alone"}`, `{"a":[[[[[]]]]]}`, `{"x":{"y":"\q"}}`, `{"x":{"y":"\u12G4"}}`, `{"x":[1e400]}`, `{"x":{"y":01}}`, `{"x":[1,]}`, `{"a":{"b":{"c":1},"d":{"e":[1,"\u00e9"]}}}`, "{\"ctl\":\"a\x01b\"}",
}

func TestDecoderMatchesEncodingJSON(t *testing.T) {
	inputs := decodeCases
	files, _ := filepath.Glob(filepath.Join("..", "lago", "testdata", "*.json"))
	if len(files) == 0 {
		t.Fatal("no Lago fixtures")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(b))
	}
	var d Decoder
	for _, in := range inputs {
		checkDecode(t, &d, in)
	}
}

func checkDecode(t *testing.T, d *Decoder, in string) {
	t.Helper()
	var want map[string]any
	wantOK := json.Unmarshal([]byte(in), &want) == nil && want != nil
	got, ok := d.Object([]byte(in), nil)
	if ok != wantOK || (ok && !reflect.DeepEqual(got, want)) {
		t.Errorf("decode %.80q: got %v %#v, want %v %#v", in, ok, got, wantOK, want)
	}
	// Reading a part: the same verdict, the part read kept, the rest left
	// out.
	reads := &router.Reads{}
	reads.Add([]string{"invoice", "customer"})
	reads.Add([]string{"a", "b"})
	got, ok = d.Object([]byte(in), reads)
	if ok != wantOK {
		t.Fatalf("decode %.80q reading a part: got %v, want %v", in, ok, wantOK)
	}
	if ok {
		if want := prune(want, reads); !reflect.DeepEqual(got, want) {
			t.Errorf("decode %.80q reading a part: got %#v, want %#v", in, got, want)
		}
	}
}

// prune is what decoding only reads of v gives.
func prune(v any, reads *router.Reads) any {
	m, ok := v.(map[string]any)
	if !ok || reads == nil || reads.Whole {
		return v
	}
	out := map[string]any{}
	for k, x := range m {
		if sub := reads.Keys[k]; sub != nil {
			out[k] = prune(x, sub)
		}
	}
	return out
}

func FuzzDecoder(f *testing.F) {
	for _, c := range decodeCases {
		f.Add(c)
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, in string) { checkDecode(t, &d, in) })
}
