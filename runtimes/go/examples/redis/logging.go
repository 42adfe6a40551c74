package main

import (
	"context"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
)

// errorLogLogger sends go-redis's own messages (pool and reconnect trouble) to nginx's
// error.log instead of stderr.
type errorLogLogger struct{}

func (errorLogLogger) Printf(_ context.Context, format string, args ...interface{}) {
	restyffi.Logf(restyffi.LevelWarn, "go-redis: "+format, args...)
}
