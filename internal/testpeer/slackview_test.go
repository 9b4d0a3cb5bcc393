package testpeer

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func post(at int, form url.Values, posted string, ok bool) SlackRequest {
	h := http.Header{}
	if posted != "" {
		h.Set(postedTSHeader, posted)
	}
	return SlackRequest{Method: http.MethodPost, Path: "/api/chat.postMessage", Header: h, Form: form, OK: ok,
		At: time.Date(2026, 3, 2, at, 0, 0, 0, time.UTC)}
}

// TestSlackView: replies go under their thread (a broadcast one also in
// the channel), an update replaces the text and says so, refused requests
// show nothing, and what was sent is escaped before mrkdwn is drawn.
func TestSlackView(t *testing.T) {
	reqs := []SlackRequest{
		post(9, url.Values{"channel": {"#b"}, "text": {":x: *failed* for `acme` <script>"}}, "1.1", true),
		post(10, url.Values{"channel": {"C1"}, "text": {"again"}, "thread_ts": {"1.1"}}, "1.2", true),
		post(10, url.Values{"channel": {"#b"}, "text": {"refused"}}, "", false),
		post(11, url.Values{"channel": {"C1"}, "text": {"paid <https://x.example/i|invoice>"}, "thread_ts": {"1.1"}, "reply_broadcast": {"true"}}, "1.3", true),
		{Path: "/api/chat.update", Form: url.Values{"channel": {"C1"}, "ts": {"1.1"}, "text": {":white_check_mark: _paid_"}}, OK: true,
			At: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)},
	}
	page := SlackView("#b", reqs)
	for _, want := range []string{
		`<span class="time">09:00</span></div><div class="content"><span class="emoji ok">✔</span> <i>paid</i> <span class="edited">(edited)</span>`,
		`<div class="thread"><div class="count">2 replies</div>`,
		`<span class="time">10:00</span></div><div class="content">again</div>`,
		`<div class="note">replied to a thread</div><div class="content">paid <a href="https://x.example/i">invoice</a></div>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the view lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, "refused") || strings.Contains(page, "<script>") {
		t.Errorf("a refused request shows, or the text is not escaped:\n%s", page)
	}
	if n := strings.Count(page, `<div class="msg">`); n != 2 {
		t.Errorf("%d messages in the channel, want 2 (the first and the broadcast reply):\n%s", n, page)
	}
	// Before the update: the original text, escaped, with mrkdwn drawn.
	page = SlackView("#b", reqs[:1])
	if !strings.Contains(page, `<span class="emoji red">✖</span> <b>failed</b> for <code>acme</code> &lt;script&gt;`) {
		t.Errorf("mrkdwn:\n%s", page)
	}
}
