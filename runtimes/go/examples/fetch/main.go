// Command fetch is a Go runtime that makes HTTP GET requests for Lua with net/http, each
// with the Lua call's context: when the caller gives up (its timeout, a client abort,
// ngx.exit), the upstream request is cancelled and its connection closed at once, instead
// of running on for nobody.
//
//	go build -buildmode=c-shared -o libffi_go_fetch.so .
//
//	local rt = ngx.load_ffi("ffi_go_fetch", '{"base":"http://127.0.0.1:8080"}')
//	local ok, body = rt:get("/slow", { timeout = 100 })   -- false, "timeout"; upstream closed
//
// The request is a URL, or a path under the cfg's "base". An answer is the response body
// (status 200), else rc = the HTTP status and the body; a transport error answers
// rc 502, a cancelled request rc -5 (restyffi.CodeCancelled).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
	"github.com/resty-ffi/resty-ffi/runtimes/go/sdk/entry"
)

// maxBody bounds what one answer copies from an upstream.
const maxBody = 16 << 20

func init() {
	entry.Register(setup)
}

type config struct {
	Base string `json:"base"`
	// MaxIdle is the idle connections kept per host.
	MaxIdle int `json:"max_idle"`
}

type fetcher struct {
	base   string
	client *http.Client
}

func setup(cfg restyffi.Config) (restyffi.Handler, error) {
	conf := config{MaxIdle: 16}
	if err := cfg.DecodeJSON(&conf); err != nil {
		return nil, err
	}
	transport := &http.Transport{
		MaxIdleConnsPerHost: conf.MaxIdle,
		IdleConnTimeout:     30 * time.Second,
	}
	return &fetcher{
		base:   strings.TrimRight(conf.Base, "/"),
		client: &http.Client{Transport: transport},
	}, nil
}

// target is the URL a request names.
func (f *fetcher) target(req []byte) (string, error) {
	s := strings.TrimSpace(string(req))
	switch {
	case strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://"):
		return s, nil
	case strings.HasPrefix(s, "/") && f.base != "":
		return f.base + s, nil
	}
	return "", restyffi.Errorf(400, "want a URL or, with a base in cfg, a path: %q", s)
}

// HandleContext fetches the URL with the call's context.
func (f *fetcher) HandleContext(ctx context.Context, req []byte) ([]byte, error) {
	url, err := f.target(req)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, restyffi.WithCode(400, err)
	}
	rsp, err := f.client.Do(hreq)
	if err != nil {
		return nil, fetchError(ctx, err)
	}
	defer rsp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(rsp.Body, maxBody))
	if err != nil {
		return nil, fetchError(ctx, err)
	}
	if rsp.StatusCode != http.StatusOK {
		return nil, restyffi.WithCode(rsp.StatusCode, errors.New(string(body)))
	}
	return body, nil
}

// fetchError is the answer for a failed request: cancelled when the caller gave up (the
// error then wraps ctx.Err(): rc -5), else a bad gateway.
func fetchError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		restyffi.Logf(restyffi.LevelInfo, "fetch: the caller gave up (%v), request cancelled", ctx.Err())
		return fmt.Errorf("fetch: %w", ctx.Err())
	}
	return restyffi.WithCode(502, err)
}

// Handle is Handler's method: without a call context (not used by Serve, which prefers
// HandleContext).
func (f *fetcher) Handle(req []byte) ([]byte, error) {
	return f.HandleContext(context.Background(), req)
}

// Close drops the idle connections after an unload.
func (f *fetcher) Close() error {
	f.client.CloseIdleConnections()
	return nil
}

// main is required by -buildmode=c-shared and never runs.
func main() {}
