package opsgenie

import "testing"

func TestBaseURL(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "https://api.opsgenie.com"},
		{Config{Region: "us"}, "https://api.opsgenie.com"},
		{Config{Region: "eu"}, "https://api.eu.opsgenie.com"},
		{Config{Region: "eu", APIURL: "http://127.0.0.1:9/og/"}, "http://127.0.0.1:9/og"},
	} {
		if got := tc.cfg.baseURL(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.cfg, got, tc.want)
		}
	}
}
