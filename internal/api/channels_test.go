package api

import (
	"strings"
	"testing"
)

func TestChannelsHideSecrets(t *testing.T) {
	s := newServer(t, original, nil)
	r := s.do("GET", "/api/v1/channels", "", nil)
	for _, v := range testEnv {
		if strings.Contains(string(r.body), v) {
			t.Errorf("GET /api/v1/channels shows the secret %q", v)
		}
	}
	var out struct {
		Channels []ChannelSettings `json:"channels"`
	}
	r.decode(t, &out)
	if len(out.Channels) != 2 {
		t.Fatalf("channels = %s", r.body)
	}
	ops, crm := out.Channels[0], out.Channels[1]
	slack, _ := ops.Settings["slack"].(map[string]any)
	if ops.Name != "ops" || ops.Kind != "slack" || slack["channel"] != "#ops" || slack["token"] != "${SLACK_TOKEN}" {
		t.Errorf("ops = %+v, want the channel and the token's ${VAR} reference", ops)
	}
	http, _ := crm.Settings["http"].(map[string]any)
	headers, _ := http["headers"].(map[string]any)
	if crm.Kind != "http" || http["url"] != "https://crm.example.com/hook" || headers["Authorization"] != "<secret>" {
		t.Errorf("crm = %+v, want the URL (its userinfo and query would be <secret>) and the header as <secret>", crm)
	}
}
