package restyffi

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
)

// Level is an nginx log level: error_log in nginx.conf decides which levels are written.
type Level int

// nginx's log levels, most severe first.
const (
	LevelEmerg Level = iota + 1
	LevelAlert
	LevelCrit
	LevelError
	LevelWarn
	LevelNotice
	LevelInfo
	LevelDebug
)

// maxLogMessage bounds what one call copies (the module cuts messages shorter still).
const maxLogMessage = 4096

var levelNames = [...]string{"", "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"}

// String returns the level's name as error_log spells it ("warn", "error", ...).
func (l Level) String() string {
	if l >= LevelEmerg && l <= LevelDebug {
		return levelNames[l]
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// clamp maps a level outside nginx's range to the nearest one.
func (l Level) clamp() Level {
	if l < LevelEmerg {
		return LevelEmerg
	}
	if l > LevelDebug {
		return LevelDebug
	}
	return l
}

// Log writes msg at level into nginx's error.log as "[resty_ffi] msg". It never blocks:
// the module queues the line for the worker, and drops it when more than its queue holds
// are waiting. Without the module's log function (an older module, or outside nginx) the
// line goes to stderr. Any goroutine may call it.
func Log(level Level, msg string) {
	b := []byte(msg)
	if len(b) > maxLogMessage {
		b = b[:maxLogMessage]
	}
	b = bytes.TrimRight(b, "\r\n")
	level = level.clamp()
	if cLog(level, b) {
		return
	}
	fmt.Fprintf(os.Stderr, "[resty_ffi] [%s] %s\n", level, b)
}

// Logf formats its arguments as fmt.Sprintf does and logs the result at level.
func Logf(level Level, format string, args ...interface{}) {
	Log(level, fmt.Sprintf(format, args...))
}

// Writer returns an io.Writer that logs each Write as one message at level.
func Writer(level Level) io.Writer {
	return levelWriter(level)
}

// NewLogger returns a *log.Logger that logs each line at level (for code that takes a
// standard logger).
func NewLogger(level Level) *log.Logger {
	return log.New(Writer(level), "", 0)
}

type levelWriter Level

func (w levelWriter) Write(p []byte) (int, error) {
	Log(Level(w), string(p))
	return len(p), nil
}
