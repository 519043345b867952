package testenv

import "testing"

func TestListenAddr(t *testing.T) {
	for _, tc := range []struct{ logs, want string }{
		{"", ""},
		{`{"content":"project dev starting on 127.0.0.1:0","level":"info"}` + "\n", ""},
		{`{"@timestamp":"t","content":"starting"}` + "\n" +
			`{"@timestamp":"t","caller":"server/server.go:107","content":"listening on 127.0.0.1:41234","level":"info"}` + "\n", "127.0.0.1:41234"},
		{`{"content":"listening on [::]:41234"}`, "[::]:41234"},
		{"listening on 127.0.0.1:1 (not a JSON line)\n", ""},
		{`{"content":"listening on 127.0.0.1:41234"`, ""}, // still being written
		{`{"content":"[HTTP] 400 - GET /?listening on 127.0.0.1:9"}` + "\n", ""},
	} {
		if got := ListenAddr(tc.logs); got != tc.want {
			t.Errorf("ListenAddr(%q) = %q, want %q", tc.logs, got, tc.want)
		}
	}
}
