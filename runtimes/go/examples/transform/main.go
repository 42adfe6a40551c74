// Command transform streams a large body back transformed, chunk by chunk: the runtime
// gets the request (the client's body) and writes its answer as a stream of chunks of at
// most 64 KiB, so nginx relays the first bytes before the last ones exist and no more
// than the stream's window waits in the worker. The nginx side reads the body and relays
// the stream (nginx-conf/demo.conf, location /transform).
//
//	go build -buildmode=c-shared -o libffi_go_transform.so .
//
//	local s = ngx.load_ffi("ffi_go_transform", "upper"):stream_x(body)
//	for chunk in s:chunks() do ngx.print(chunk); ngx.flush(true) end
//
// cfg: the transform, "upper" (the default: ASCII letters upper-cased, every other byte
// as it is, so the answer is exactly as long as the request) or "gzip" (compress/gzip,
// the answer a gzip file). A plain call (rt:x(body)) answers the whole result at once.
// When the reader goes away (client abort, s:close()), the next chunk's Write fails with
// an error wrapping context.Canceled and the handler stops.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
	"github.com/resty-ffi/resty-ffi/runtimes/go/sdk/entry"
)

// ChunkSize is the most bytes one chunk of the stream holds.
const ChunkSize = 64 << 10

func init() {
	entry.Register(setup)
}

func setup(cfg restyffi.Config) (restyffi.Handler, error) {
	mode := cfg.String()
	switch mode {
	case "":
		mode = "upper"
	case "upper", "gzip":
	default:
		return nil, restyffi.Errorf(22, `cfg: "upper" or "gzip", got %q`, mode)
	}
	return restyffi.StreamHandlerFunc(func(ctx context.Context, req []byte, w *restyffi.StreamWriter) ([]byte, error) {
		if !w.Streaming() {
			var all bytes.Buffer
			if err := transform(ctx, mode, req, &all); err != nil {
				return nil, err
			}
			return all.Bytes(), nil
		}
		if err := transform(ctx, mode, req, w); err != nil {
			return nil, err // the reader is gone (rc -5, freed unread)
		}
		return nil, nil // the end of the stream
	}), nil
}

// transform writes req transformed by mode to out, in Writes of at most ChunkSize bytes.
func transform(ctx context.Context, mode string, req []byte, out io.Writer) error {
	if mode == "gzip" {
		// gzip.Writer writes in small pieces (its header, then deflate blocks): a buffer
		// gathers them into chunks of ChunkSize.
		buf := bufio.NewWriterSize(out, ChunkSize)
		gz := gzip.NewWriter(buf)
		for len(req) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := len(req)
			if n > ChunkSize {
				n = ChunkSize
			}
			if _, err := gz.Write(req[:n]); err != nil {
				return err
			}
			req = req[n:]
		}
		if err := gz.Close(); err != nil {
			return err
		}
		return buf.Flush()
	}
	chunk := make([]byte, ChunkSize)
	for len(req) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := copy(chunk, req)
		upper(chunk[:n], req[:n])
		if _, err := out.Write(chunk[:n]); err != nil {
			return err
		}
		req = req[n:]
	}
	return nil
}

// upper copies src to dst with the ASCII letters upper-cased (Lua's string.upper in the C
// locale; bytes.ToUpper would also map UTF-8 and change the length).
func upper(dst, src []byte) {
	for i, c := range src {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst[i] = c
	}
}

// main is required by -buildmode=c-shared and never runs.
func main() {}
