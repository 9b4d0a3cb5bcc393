package notifiers

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestClassifyStatus(t *testing.T) {
	for _, tc := range []struct {
		code      int
		after     time.Duration
		has       bool
		permanent bool
		retryIn   time.Duration
	}{
		{400, 0, false, true, 0},
		{404, 0, false, true, 0},
		{408, 0, false, false, 0},
		{429, 3 * time.Second, true, false, 3 * time.Second},
		{429, 0, false, false, 0},
		{500, 0, false, false, 0},
		{503, time.Second, true, false, time.Second},
	} {
		err := ClassifyStatus(tc.code, tc.after, tc.has, "the peer's reason")
		if IsPermanent(err) != tc.permanent {
			t.Errorf("%d: permanent %v", tc.code, IsPermanent(err))
		}
		if d, ok := RetryAfter(err); d != tc.retryIn || ok != (tc.retryIn > 0) {
			t.Errorf("%d: retry after %v %v", tc.code, d, ok)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Code != tc.code || !strings.Contains(err.Error(), "the peer's reason") {
			t.Errorf("%d: %v", tc.code, err)
		}
	}
	long := ClassifyStatus(400, 0, false, strings.Repeat("x", 2000))
	if len(long.Error()) > maxErrorBody+64 {
		t.Errorf("a long reason is kept whole: %d bytes", len(long.Error()))
	}
}

func TestScrub(t *testing.T) {
	const hook = "https://discord.example/api/webhooks/1/T0KENsecret?wait=true"
	ue := &url.Error{Op: "Post", URL: hook, Err: errors.New("connection refused")}
	err := Scrub("post to discord", Permanent(ue), URLSecrets(hook)...)
	if strings.Contains(err.Error(), "T0KEN") || !strings.Contains(err.Error(), "discord.example") || !IsPermanent(err) {
		t.Errorf("url error: %v", err)
	}
	se := &StatusError{Code: 400, Body: "bad key R0UT1NGKEY"}
	err = Scrub("post", &RetryAfterError{After: time.Second, Err: se}, "R0UT1NGKEY")
	if strings.Contains(err.Error(), "R0UT1NGKEY") || strings.Contains(se.Body, "R0UT1NGKEY") {
		t.Errorf("status error: %v / %q", err, se.Body)
	}
	if d, ok := RetryAfter(err); !ok || d != time.Second {
		t.Errorf("the classification is lost: %v", err)
	}
	if Scrub("op", nil) != nil {
		t.Error("nil is not nil")
	}
}
