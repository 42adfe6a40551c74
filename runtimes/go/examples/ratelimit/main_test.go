package main

import (
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	dict, limit, window, err := parseConfig("limits 10 1.5")
	if err != nil || dict != "limits" || limit != 10 || window != 1500*time.Millisecond {
		t.Fatalf("got %q %v %v %v", dict, limit, window, err)
	}
	for _, bad := range []string{"", "limits", "limits x 1", "limits 0 1", "limits 1 0", "a 1 2 3"} {
		if _, _, _, err := parseConfig(bad); err == nil {
			t.Errorf("parseConfig(%q) accepted", bad)
		}
	}
}
