// Command redis is a resty-ffi runtime that runs Redis commands with go-redis, so Lua
// code gets a pooled, pipelining Redis client whose calls never block the nginx worker.
// Each call is answered on a goroutine of its own: many calls from many requests are in
// flight at once.
//
//	go build -buildmode=c-shared -o libffi_go_redis.so .
//
//	local rt = ngx.load_ffi("ffi_go_redis", '{"addr":"127.0.0.1:6379"}')
//	rt:call('{"cmd":"set","key":"k","value":"v"}')   -- true, "OK"
//	rt:call('{"cmd":"get","key":"k"}')               -- true, "v"
//	rt:call('{"cmd":"incr","key":"n"}')              -- true, "1"
//
// See config.go for cfg and request.go for the commands and their result codes.
package main

import (
	"github.com/redis/go-redis/v9"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
	"github.com/resty-ffi/resty-ffi/runtimes/go/sdk/entry"
)

func init() {
	redis.SetLogger(errorLogLogger{})
	entry.Register(setup)
}

// setup runs at each load: a bad cfg or an unreachable server fails the load.
func setup(cfg restyffi.Config) (restyffi.Handler, error) {
	conf, err := parseConfig(cfg)
	if err != nil {
		return nil, err
	}
	s, err := openStore(conf)
	if err != nil {
		return nil, err
	}
	restyffi.Logf(restyffi.LevelInfo, "go redis runtime: connected to %s", conf.Addr)
	return s, nil
}

// main is required by -buildmode=c-shared and never runs.
func main() {}
