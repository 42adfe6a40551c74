package restyffi

import (
	"strings"
	"testing"
)

func TestLevelNamesAndClamp(t *testing.T) {
	if LevelEmerg != 1 || LevelError != 4 || LevelWarn != 5 || LevelDebug != 8 {
		t.Fatal("levels must be nginx's numbers")
	}
	if LevelWarn.String() != "warn" || LevelError.String() != "error" || Level(42).String() != "level(42)" {
		t.Fatal("level names")
	}
	if Level(0).clamp() != LevelEmerg || Level(99).clamp() != LevelDebug || LevelInfo.clamp() != LevelInfo {
		t.Fatal("clamp")
	}
}

// Outside nginx there is no ngx_http_resty_ffi_log: logging falls back to stderr and
// must neither fail nor block.
func TestLogWithoutModule(t *testing.T) {
	Log(LevelInfo, "restyffi test: stderr fallback\n")
	Logf(LevelDebug, "restyffi test: %d", 42)
	Log(LevelWarn, "")
	Log(LevelWarn, strings.Repeat("x", 3*maxLogMessage))
	n, err := Writer(LevelNotice).Write([]byte("restyffi test: writer\n"))
	if n != len("restyffi test: writer\n") || err != nil {
		t.Fatalf("Write: %d %v", n, err)
	}
	NewLogger(LevelInfo).Printf("restyffi test: logger %s", "line")
}
