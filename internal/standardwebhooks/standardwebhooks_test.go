package standardwebhooks

import (
	"errors"
	"testing"
	"time"
)

// Vector from the Standard Webhooks specification's reference libraries.
func TestSpecVector(t *testing.T) {
	k, err := ParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	id := "msg_p5jXN8AQM9LWM0D4loKWxJek"
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if got := k.Sign(id, ts, body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if err := k.Verify(id, "1614265330", "v1,bogus "+want, body, ts, DefaultTolerance); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	cases := []struct {
		name        string
		id, ts, sig string
		body        string
		now         time.Time
		want        error
	}{
		{"body changed", id, "1614265330", want, `{"test": 2432232315}`, ts, ErrSignature},
		{"too old", id, "1614265330", want, string(body), ts.Add(6 * time.Minute), ErrTimestamp},
		{"future", id, "1614265330", want, string(body), ts.Add(-6 * time.Minute), ErrTimestamp},
		{"missing", "", "1614265330", want, string(body), ts, ErrMissingHeaders},
		{"other id", "msg_other", "1614265330", want, string(body), ts, ErrSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := k.Verify(c.id, c.ts, c.sig, []byte(c.body), c.now, DefaultTolerance)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseKeyRejectsGarbage(t *testing.T) {
	for _, s := range []string{"whsec_!!!", "whsec_c2hvcnQ="} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}
