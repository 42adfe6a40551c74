package deep

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestWorkAnswers(t *testing.T) {
	rc, out := Work([]byte(`{"id":7,"depth":2000,"text":"ab"}`))
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, out)
	}
	// 'a'+'b' = 195, added once per frame.
	want := `{"id":7,"depth":2000,"levels":2000,"sum":390000,"text":"ab"}`
	if string(out) != want {
		t.Fatalf("got %s, want %s", out, want)
	}
	var a answer
	if err := json.Unmarshal(out, &a); err != nil || a.Levels != 2000 {
		t.Fatalf("%v %+v", err, a)
	}
}

func TestWorkRejectsBadRequests(t *testing.T) {
	for req, want := range map[string]string{
		`not json`:                "invalid character",
		`{"id":1,"depth":0}`:      "depth out of range",
		`{"id":1,"depth":100001}`: "depth out of range",
	} {
		rc, out := Work([]byte(req))
		if rc != 1 || !strings.Contains(string(out), want) {
			t.Errorf("%s: rc %d %q, want 1 and %q", req, rc, out, want)
		}
	}
}
