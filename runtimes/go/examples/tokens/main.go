// Command tokens streams "tokens" the way a language model's API does: the words of its
// request (or of a built-in text for an empty one), one per chunk, a few ms apart. The
// nginx side relays them as server-sent events (nginx-conf/demo.conf, location /sse).
//
//	go build -buildmode=c-shared -o libffi_go_tokens.so .
//
//	local s = ngx.load_ffi("ffi_go_tokens", "20"):stream_gen("a few words")
//	for token in s:chunks() do ngx.print("data: ", token, "\n\n"); ngx.flush(true) end
//
// cfg: the delay between tokens in ms (default 20). A plain call (rt:gen(text)) answers
// the whole text at once. When the reader goes away (client abort, s:close()), the next
// Write fails with an error wrapping context.Canceled and the handler stops.
package main

import (
	"bytes"
	"context"
	"strconv"
	"time"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
	"github.com/resty-ffi/resty-ffi/runtimes/go/sdk/entry"
)

// The text streamed for an empty request.
const defaultText = "Streams let a runtime answer in chunks: each token reaches the client as soon as it exists."

func init() {
	entry.Register(setup)
}

func setup(cfg restyffi.Config) (restyffi.Handler, error) {
	delay := 20 * time.Millisecond
	if s := cfg.String(); s != "" {
		ms, err := strconv.Atoi(s)
		if err != nil || ms < 0 {
			return nil, restyffi.Errorf(22, "cfg: the delay in ms, got %q", s)
		}
		delay = time.Duration(ms) * time.Millisecond
	}
	return restyffi.StreamHandlerFunc(func(ctx context.Context, req []byte, w *restyffi.StreamWriter) ([]byte, error) {
		text := req
		if len(text) == 0 {
			text = []byte(defaultText)
		}
		if !w.Streaming() {
			return text, nil
		}
		timer := time.NewTimer(delay)
		defer timer.Stop()
		for _, token := range bytes.Fields(text) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-timer.C:
			}
			timer.Reset(delay)
			if _, err := w.Write(token); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}), nil
}

// main is required by -buildmode=c-shared and never runs.
func main() {}
