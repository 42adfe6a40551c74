// Command ratelimit is a Go runtime that keeps fixed-window rate-limit counters in one of
// nginx's shared dictionaries: Lua reads them with ngx.shared.DICT:get, in every worker.
//
//	go build -buildmode=c-shared -o libffi_go_ratelimit.so .
//
//	lua_shared_dict limits 1m;
//
//	local rt = ngx.load_ffi("ffi_go_ratelimit", "limits 10 60")  -- dict, limit, window (s)
//	local ok, res, msg = rt:hit(ngx.var.remote_addr)
//	-- true, "1/10" .. "10/10"; then false, 429, "limited: 11/10"
//	ngx.shared.limits:get(ngx.var.remote_addr)  -- the count Go keeps (expires with the window)
//
// A request "reset <key>" deletes a key's counter.
package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
	"github.com/resty-ffi/resty-ffi/runtimes/go/sdk/entry"
)

func init() {
	entry.Register(setup)
}

// limiter counts the hits of each key in dict: at most limit per window.
type limiter struct {
	dict   *restyffi.Dict
	limit  float64
	window time.Duration
}

func parseConfig(cfg string) (dict string, limit float64, window time.Duration, err error) {
	f := strings.Fields(cfg)
	if len(f) != 3 {
		return "", 0, 0, fmt.Errorf("cfg %q: want \"<dict> <limit> <window seconds>\"", cfg)
	}
	limit, err = strconv.ParseFloat(f[1], 64)
	if err != nil || limit < 1 {
		return "", 0, 0, fmt.Errorf("cfg %q: bad limit", cfg)
	}
	secs, err := strconv.ParseFloat(f[2], 64)
	if err != nil || secs <= 0 {
		return "", 0, 0, fmt.Errorf("cfg %q: bad window", cfg)
	}
	return f[0], limit, time.Duration(secs * float64(time.Second)), nil
}

func setup(cfg restyffi.Config) (restyffi.Handler, error) {
	name, limit, window, err := parseConfig(cfg.String())
	if err != nil {
		return nil, err
	}
	dict, err := restyffi.SharedDict(name)
	if err != nil {
		return nil, err
	}
	l := &limiter{dict: dict, limit: limit, window: window}
	return restyffi.HandlerFunc(l.handle), nil
}

func (l *limiter) handle(req []byte) ([]byte, error) {
	if bytes.HasPrefix(req, []byte("reset ")) {
		if err := l.dict.Delete(string(req[len("reset "):])); err != nil {
			return nil, err
		}
		return []byte("reset"), nil
	}
	// The first hit of a window creates the counter, expiring with the window.
	n, err := l.dict.IncrInit(string(req), 1, 0, l.window)
	if err != nil {
		return nil, err
	}
	if n > l.limit {
		return nil, restyffi.Errorf(429, "limited: %g/%g", n, l.limit)
	}
	return []byte(fmt.Sprintf("%g/%g", n, l.limit)), nil
}

// main is required by -buildmode=c-shared and never runs.
func main() {}
