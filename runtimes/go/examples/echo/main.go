// Command echo is the smallest Go runtime for resty-ffi: it answers each request with
// its own bytes, after the cfg string given to ngx.load_ffi (if any).
//
//	go build -buildmode=c-shared -o libffi_go_echo.so .
//
//	local rt = ngx.load_ffi("ffi_go_echo", "> ")
//	local ok, res = rt:echo("hello")   -- true, "> hello"
package main

import (
	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
	"github.com/resty-ffi/resty-ffi/runtimes/go/sdk/entry"
)

func init() {
	entry.Register(setup)
}

func setup(cfg restyffi.Config) (restyffi.Handler, error) {
	prefix := cfg.Bytes()
	return restyffi.HandlerFunc(func(req []byte) ([]byte, error) {
		rsp := make([]byte, 0, len(prefix)+len(req))
		rsp = append(rsp, prefix...)
		return append(rsp, req...), nil
	}), nil
}

// main is required by -buildmode=c-shared and never runs.
func main() {}
