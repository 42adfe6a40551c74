// Command goruntime is the Go runtime of the t/ suite (libffi_go_test.so). Each request
// is a command:
//
//	echo <bytes>         the bytes
//	error <rc> <text>    an *restyffi.Error with that rc
//	plain <text>         a plain error (rc -1, restyffi.CodeError)
//	panic <text>         the handler panics
//	goexit               the handler calls runtime.Goexit
//	gopanic <text>       a goroutine started with restyffi.Go panics; answers once it ended
//	deep <n> <text>      the text, after a recursion n calls deep (about 300 bytes a frame:
//	                     the handler's goroutine stack grows)
//	log <level> <text>   logs the text at that nginx level (1..8), answers "logged"
//	closes               how many times a Handler of this library was closed
//	wait_ctx <ms>        waits up to ms for the call's context to be done; then answers
//	                     ctx.Err() (rc -5, restyffi.CodeCancelled, freed: the caller has
//	                     gone), else "not cancelled"; logs how long after the deadline
//	                     the context was done
//	ctx_deadline         ms left until the context's deadline, or "none"
//	ctx_cancels          "done=N canceled=M": wait_ctx calls whose context was done, and
//	                     how many of them by the module's announcement (context.Canceled)
//	                     rather than by the deadline's own timer
//	wait_ctx_mark <dict> <key> <ms>
//	                     as wait_ctx, and once the context is done marks it in a shared
//	                     dict: key = the Unix time (seconds, a number) the handler saw it.
//	                     The zone outlives the worker: a worker that exits while the call
//	                     waits leaves the mark for the next one (t/028's worker exit test)
//
//	shd ...              shared dictionaries (restyffi.SharedDict), as the Rust SDK test
//	                     runtime's: shd get|set|add|replace|safe_set|delete|incr|ttl|expire
//	                     <dict> <key> ...; errors answer rc 1 with the message
//
// The commands are a restyffi.ContextHandler: every call has its context.
// Streams (rt:stream_x(req); restyffi.StreamHandler, chunks written to the StreamWriter):
//
//	stream <n> <size>    n chunks "i:abc..." of size bytes, then answers "end"
//	stream_fail <n>      n chunks of 8 bytes, then an error rc 7 "went wrong"
//	stream_ticks <ms>    "tick i" every ms until a Write fails (the caller stopped reading)
//	stream_cancels       how many stream_ticks saw a Write fail with context.Canceled
//	is_stream            "stream", or for a plain call "plain: " and the Write's error
//	stream_total <b> <s> b bytes in chunks of s bytes, then "sent=b"
//
// The commands are a restyffi.StreamHandler: every call has its context and a writer.
//
// cfg: "fail" makes setup fail, "panic" makes it panic; anything else is ignored.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
	"github.com/resty-ffi/resty-ffi/runtimes/go/sdk/entry"
)

var closes int64

// wait_ctx calls whose context was done, and those done by cancellation (not deadline).
var ctxDone, ctxCanceled int64

func init() {
	entry.Register(setup)
}

func setup(cfg restyffi.Config) (restyffi.Handler, error) {
	switch cfg.String() {
	case "fail":
		return nil, errors.New("cfg asked this runtime to fail")
	case "panic":
		panic("cfg asked this runtime to panic")
	}
	return commands{}, nil
}

type commands struct{}

// stream_ticks calls that saw the caller stop reading.
var streamCancels int64

// chunkOf is "i:" then the alphabet over and over, size bytes in all (t/031's chunk_of).
func chunkOf(i, size int) []byte {
	c := []byte(strconv.Itoa(i) + ":")
	for n := len(c); n < size; n++ {
		c = append(c, byte('a'+n%26))
	}
	if len(c) > size {
		c = c[:size]
	}
	return c
}

// HandleStream serves the stream commands; HandleContext the others.
func (c commands) HandleStream(ctx context.Context, req []byte, w *restyffi.StreamWriter) ([]byte, error) {
	cmd, arg := split(req)
	a, b := split(arg)
	n, _ := strconv.Atoi(string(a))
	size, _ := strconv.Atoi(string(b))
	switch string(cmd) {
	case "stream":
		for i := 0; i < n; i++ {
			if _, err := w.Write(chunkOf(i, size)); err != nil {
				return nil, err
			}
		}
		return []byte("end"), nil
	case "stream_fail":
		for i := 0; i < n; i++ {
			if _, err := w.Write(chunkOf(i, 8)); err != nil {
				return nil, err
			}
		}
		return nil, restyffi.Errorf(7, "went wrong")
	case "stream_ticks":
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "tick %d", i); err != nil {
				if errors.Is(err, context.Canceled) {
					atomic.AddInt64(&streamCancels, 1)
				}
				return nil, err
			}
			time.Sleep(time.Duration(n) * time.Millisecond)
		}
	case "stream_cancels":
		return []byte(strconv.FormatInt(atomic.LoadInt64(&streamCancels), 10)), nil
	case "is_stream":
		if w.Streaming() {
			_, err := w.Write([]byte("x"))
			return []byte("stream"), err
		}
		_, err := w.Write([]byte("x"))
		return []byte(fmt.Sprintf("plain: %v", err)), nil
	case "stream_total":
		if size < 1 {
			size = 1
		}
		chunk := bytes.Repeat([]byte{'x'}, size)
		for sent := 0; sent < n; sent += size {
			if n-sent < size {
				chunk = chunk[:n-sent]
			}
			if _, err := w.Write(chunk); err != nil {
				return nil, err
			}
		}
		return []byte("sent=" + strconv.Itoa(n)), nil
	}
	return c.HandleContext(ctx, req)
}

// HandleContext serves the commands that use the call's context; Handle the others.
func (c commands) HandleContext(ctx context.Context, req []byte) ([]byte, error) {
	cmd, arg := split(req)
	switch string(cmd) {
	case "wait_ctx":
		ms, err := strconv.Atoi(string(arg))
		if err != nil {
			return nil, restyffi.Errorf(22, "bad ms %q", arg)
		}
		timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer timer.Stop()
		select {
		case <-ctx.Done():
		case <-timer.C:
			return []byte("not cancelled"), nil
		}
		atomic.AddInt64(&ctxDone, 1)
		if errors.Is(ctx.Err(), context.Canceled) {
			atomic.AddInt64(&ctxCanceled, 1)
		}
		if deadline, ok := ctx.Deadline(); ok {
			restyffi.Logf(restyffi.LevelInfo, "wait_ctx: context done (%v) %d us after the deadline",
				ctx.Err(), time.Since(deadline).Microseconds())
		} else {
			restyffi.Logf(restyffi.LevelInfo, "wait_ctx: context done (%v), no deadline", ctx.Err())
		}
		return nil, fmt.Errorf("wait_ctx: %w", ctx.Err())
	case "wait_ctx_mark":
		return waitCtxMark(ctx, arg)
	case "ctx_deadline":
		deadline, ok := ctx.Deadline()
		if !ok {
			return []byte("none"), nil
		}
		return []byte(strconv.FormatInt(time.Until(deadline).Milliseconds(), 10)), nil
	case "ctx_cancels":
		return []byte(fmt.Sprintf("done=%d canceled=%d",
			atomic.LoadInt64(&ctxDone), atomic.LoadInt64(&ctxCanceled))), nil
	}
	return c.Handle(req)
}

// waitCtxMark: `<dict> <key> <ms>`; waits for the context as wait_ctx does, then stores the
// time it was done (Unix seconds) under key in the shared dict.
func waitCtxMark(ctx context.Context, arg []byte) ([]byte, error) {
	name, rest := split(arg)
	key, ms := split(rest)
	d, err := restyffi.SharedDict(string(name))
	if err != nil {
		return nil, restyffi.Errorf(22, "%s", err.Error())
	}
	timer := time.NewTimer(msArg(ms))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
		return []byte("not cancelled"), nil
	}
	noticed := float64(time.Now().UnixNano()) / 1e9
	// Logged before the mark: a worker that exits once it sees the mark still writes it.
	restyffi.Logf(restyffi.LevelNotice, "wait_ctx_mark: context done (%v), marking %s", ctx.Err(), key)
	if _, err := d.Store(restyffi.OpSet, string(key), noticed, 0, 0); err != nil {
		restyffi.Logf(restyffi.LevelError, "wait_ctx_mark: %v", err)
	}
	return nil, fmt.Errorf("wait_ctx_mark: %w", ctx.Err())
}

func (commands) Handle(req []byte) ([]byte, error) {
	cmd, arg := split(req)
	switch string(cmd) {
	case "echo":
		return arg, nil
	case "error":
		rc, text := split(arg)
		n, err := strconv.Atoi(string(rc))
		if err != nil {
			return nil, restyffi.Errorf(22, "bad rc %q", rc)
		}
		return nil, restyffi.Errorf(n, "%s", text)
	case "plain":
		return nil, errors.New(string(arg))
	case "panic":
		panic(string(arg))
	case "goexit":
		runtime.Goexit()
	case "gopanic":
		// Recovered and logged by restyffi.Go: a plain go statement would end the worker.
		done := make(chan struct{})
		text := string(arg)
		restyffi.Go(func() {
			defer close(done)
			panic(text)
		})
		<-done
		return []byte("goroutine panicked, worker alive"), nil
	case "deep":
		n, text := split(arg)
		depth, err := strconv.Atoi(string(n))
		if err != nil || depth < 1 || depth > 100000 {
			return nil, restyffi.Errorf(22, "bad depth %q", n)
		}
		if levels, sum := descend(depth); levels != depth || sum != 32*depth*(depth+1)/2 {
			return nil, restyffi.Errorf(23, "recursion returned %d frames, sum %d", levels, sum)
		}
		return text, nil
	case "log":
		level, text := split(arg)
		n, err := strconv.Atoi(string(level))
		if err != nil {
			return nil, restyffi.Errorf(22, "bad level %q", level)
		}
		restyffi.Log(restyffi.Level(n), string(text))
		return []byte("logged"), nil
	case "closes":
		return []byte(strconv.FormatInt(atomic.LoadInt64(&closes), 10)), nil
	case "shd":
		out, err := shd(arg)
		if err != nil {
			return nil, restyffi.Errorf(1, "%s", err.Error())
		}
		return out, nil
	}
	return nil, restyffi.Errorf(22, "unknown command %q", cmd)
}

// Close runs after an unload, once every Handle call returned.
func (commands) Close() error {
	atomic.AddInt64(&closes, 1)
	restyffi.Log(restyffi.LevelNotice, "go test runtime closed")
	return nil
}

// descend recurses n calls deep, each frame keeping a buffer live across the next call;
// it returns the number of frames and the sum of every frame's buffer.
//
//go:noinline
func descend(n int) (levels, sum int) {
	var buf [32]int
	for i := range buf {
		buf[i] = n
	}
	if n > 1 {
		levels, sum = descend(n - 1)
	}
	for _, v := range buf {
		sum += v
	}
	return levels + 1, sum
}

func mustFloat(b []byte) float64 {
	f, _ := strconv.ParseFloat(string(b), 64)
	return f
}

func msArg(b []byte) time.Duration {
	n, _ := strconv.Atoi(string(b))
	return time.Duration(n) * time.Millisecond
}

// shd: `shd <op> <dict> <key> ...`, the commands of the Rust SDK test runtime.
func shd(req []byte) ([]byte, error) {
	op, rest := split(req)
	name, rest := split(rest)
	key, rest := split(rest)
	d, err := restyffi.SharedDict(string(name))
	if err != nil {
		return nil, err
	}
	k := string(key)
	ops := map[string]int{"set": restyffi.OpSet, "add": restyffi.OpAdd,
		"replace": restyffi.OpReplace, "safe_set": restyffi.OpSafeSet, "safe_add": restyffi.OpSafeAdd}
	if code, ok := ops[string(op)]; ok {
		ttl, rest := split(rest)
		typ, raw := split(rest)
		var v any
		switch string(typ) {
		case "string":
			v = raw
		case "number":
			v = mustFloat(raw)
		case "boolean":
			v = string(raw) == "true"
		default:
			return nil, errors.New("bad type")
		}
		if _, err := d.Store(code, k, v, msArg(ttl), 0); err != nil {
			return nil, err
		}
		return []byte("stored"), nil
	}
	switch string(op) {
	case "get":
		v, flags, err := d.GetFlags(k)
		if err != nil {
			return nil, err
		}
		var typ, text string
		switch v := v.(type) {
		case nil:
			typ = "nil"
		case string:
			typ, text = "string", v
		case float64:
			typ, text = "number", strconv.FormatFloat(v, 'g', -1, 64)
		case bool:
			typ, text = "boolean", strconv.FormatBool(v)
		}
		return []byte(fmt.Sprintf("%s %s flags=%d", typ, text, flags)), nil
	case "delete":
		if err := d.Delete(k); err != nil {
			return nil, err
		}
		return []byte("deleted"), nil
	case "incr":
		delta, rest := split(rest)
		init, initTTL := split(rest)
		var v float64
		if len(init) == 0 {
			v, err = d.Incr(k, mustFloat(delta))
		} else {
			v, err = d.IncrInit(k, mustFloat(delta), mustFloat(init), msArg(initTTL))
		}
		if err != nil {
			return nil, err
		}
		return []byte(strconv.FormatFloat(v, 'g', -1, 64)), nil
	case "ttl":
		ttl, err := d.TTL(k)
		if err != nil {
			return nil, err
		}
		if ttl == 0 {
			return []byte("never"), nil
		}
		return []byte(strconv.FormatInt(ttl.Milliseconds(), 10)), nil
	case "expire":
		if err := d.Expire(k, msArg(rest)); err != nil {
			return nil, err
		}
		return []byte("expired"), nil
	case "bench":
		n, _ := strconv.Atoi(string(rest))
		if n < 1 {
			n = 1
		}
		start := time.Now()
		for i := 0; i < n; i++ {
			if _, err := d.IncrInit(k, 1, 0, 0); err != nil {
				return nil, err
			}
		}
		incr := time.Since(start).Nanoseconds() / int64(n)
		start = time.Now()
		for i := 0; i < n; i++ {
			if _, err := d.Get(k); err != nil {
				return nil, err
			}
		}
		get := time.Since(start).Nanoseconds() / int64(n)
		return []byte(fmt.Sprintf("incr=%d get=%d", incr, get)), nil
	}
	return nil, errors.New("unknown shd command")
}

func split(b []byte) (head, rest []byte) {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

func main() {}
