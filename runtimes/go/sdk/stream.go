package restyffi

/*
#include <stddef.h>

// The stream functions of ngx_http_resty_ffi_module, looked up at run time (absent in
// modules older than streams: then no call is a stream).
typedef int (*rf_task_streaming_fn)(void *task);
typedef int (*rf_task_send_fn)(void *task, const char *buf, size_t len);

static int rf_task_streaming(void *fn, void *task) {
	return ((rf_task_streaming_fn)fn)(task);
}

static int rf_task_send(void *fn, void *task, const char *buf, size_t len) {
	return ((rf_task_send_fn)fn)(task, buf, len);
}
*/
import "C"

import (
	"context"
	"errors"
	"io"
	"sync"
	"unsafe"
)

// ErrStreamCancelled is what a send returns once the caller stopped reading the stream
// (s:close(), its timeout, its request ended): send no more and return. It wraps
// context.Canceled, so a handler that returns it answers CodeCancelled (freed unread).
var ErrStreamCancelled error = streamCancelled{}

type streamCancelled struct{}

func (streamCancelled) Error() string { return "restyffi: the caller stopped reading the stream" }
func (streamCancelled) Unwrap() error { return context.Canceled }

// ErrNotStream is what a send returns for a plain call (rt:x(req), not rt:stream_x(req)),
// with a module without streams, or once the task is answered.
var ErrNotStream = errors.New("restyffi: not a stream call in the runtime's hands")

var streamABI struct {
	once      sync.Once
	streaming unsafe.Pointer
	send      unsafe.Pointer
	trySend   unsafe.Pointer
}

func bindStreamABI() {
	streamABI.once.Do(func() {
		streamABI.streaming = lookup("ngx_http_resty_ffi_task_streaming")
		streamABI.send = lookup("ngx_http_resty_ffi_task_send")
		streamABI.trySend = lookup("ngx_http_resty_ffi_task_try_send")
	})
}

func cStreaming(task unsafe.Pointer) bool {
	bindStreamABI()
	if streamABI.streaming == nil {
		return false
	}
	return C.rf_task_streaming(streamABI.streaming, task) == 1
}

// cSend sends chunk (copied by the module) with the blocking or the trying send: 0 sent,
// 1 window full (trying only), CodeCancelled, -1 not a stream (or no such function).
func cSend(task unsafe.Pointer, chunk []byte, block bool) int {
	bindStreamABI()
	fn := streamABI.trySend
	if block {
		fn = streamABI.send
	}
	if fn == nil {
		return -1
	}
	var p *C.char
	if len(chunk) > 0 {
		p = (*C.char)(unsafe.Pointer(&chunk[0]))
	}
	return int(C.rf_task_send(fn, task, p, C.size_t(len(chunk))))
}

// streamGate orders a task's sends before its answer (the ABI's rule): a send holds the
// lock while in C, and Respond closes the gate (waiting for a send in progress) first.
type streamGate struct {
	mu     sync.Mutex
	closed bool
}

func (g *streamGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// Streaming reports whether the caller reads this call as a stream (rt:stream_x(req) in
// Lua): then the handler may send chunks before it answers.
func (t *Task) Streaming() bool {
	t.stream.mu.Lock()
	defer t.stream.mu.Unlock()
	return !t.stream.closed && !t.isAnswered() && cStreaming(t.task)
}

func (t *Task) send(chunk []byte, block bool) (sent bool, err error) {
	t.stream.mu.Lock()
	defer t.stream.mu.Unlock()
	if t.stream.closed || t.isAnswered() {
		return false, ErrNotStream
	}
	switch rc := cSend(t.task, chunk, block); rc {
	case 0:
		return true, nil
	case 1:
		return false, nil
	case CodeCancelled:
		return false, ErrStreamCancelled
	default:
		return false, ErrNotStream
	}
}

// Send sends one chunk of a stream call's answer (copied), waiting while the chunks the
// caller has not read fill its window; the answer (Respond) ends the stream, its bytes
// being the last chunk if not empty. Safe for concurrent use (sends are serialized).
// ErrStreamCancelled: the caller stopped reading; ErrNotStream: a plain call, or answered.
func (t *Task) Send(chunk []byte) error {
	_, err := t.send(chunk, true)
	return err
}

// TrySend is Send without waiting: false, nil when the window is full (nothing sent).
func (t *Task) TrySend(chunk []byte) (bool, error) {
	return t.send(chunk, false)
}

// Writer returns an io.Writer whose every Write is one chunk of the task's stream.
func (t *Task) Writer() *StreamWriter { return &StreamWriter{t: t} }

// StreamWriter writes a stream call's chunks: each Write sends p as one chunk (copied;
// waits while the caller's window is full). A Write after the caller stopped reading
// returns an error that wraps context.Canceled (ErrStreamCancelled). A nil
// *StreamWriter (a plain call's, see StreamHandlerFunc.Handle) is not a stream.
type StreamWriter struct {
	t *Task
}

var _ io.Writer = (*StreamWriter)(nil)

// Write sends p as one chunk: len(p), nil once sent.
func (w *StreamWriter) Write(p []byte) (int, error) {
	if w == nil || w.t == nil {
		return 0, ErrNotStream
	}
	if err := w.t.Send(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Streaming reports whether the call is a stream (see Task.Streaming).
func (w *StreamWriter) Streaming() bool {
	return w != nil && w.t != nil && w.t.Streaming()
}

// StreamHandler is a Handler whose calls may be streams: HandleStream gets the call's
// context (see ContextHandler) and a StreamWriter for the chunks of its answer; the
// returned bytes (if any) are the last chunk and the error ends the stream with its code.
// For a plain call, w.Streaming() is false and Write fails with ErrNotStream.
//
// Serve calls HandleStream rather than HandleContext or Handle for a Handler that has it.
type StreamHandler interface {
	HandleStream(ctx context.Context, req []byte, w *StreamWriter) ([]byte, error)
}

// StreamHandlerFunc adapts a function to StreamHandler (and to Handler, with a background
// context and no stream, so a SetupFunc can return it).
type StreamHandlerFunc func(ctx context.Context, req []byte, w *StreamWriter) ([]byte, error)

// HandleStream calls f(ctx, req, w).
func (f StreamHandlerFunc) HandleStream(ctx context.Context, req []byte, w *StreamWriter) ([]byte, error) {
	return f(ctx, req, w)
}

// Handle calls f with a context that is never cancelled and a nil (not a stream) writer.
func (f StreamHandlerFunc) Handle(req []byte) ([]byte, error) {
	return f(context.Background(), req, nil)
}

// streamTask is a pendingTask that can stream (*Task; the fakes of the tests cannot).
type streamTask interface {
	Writer() *StreamWriter
}

// handleStream runs a StreamHandler for t; a task that cannot stream gets a nil writer.
func handleStream(h StreamHandler, t pendingTask) ([]byte, error) {
	var w *StreamWriter
	if st, ok := t.(streamTask); ok {
		w = st.Writer()
	}
	return h.HandleStream(t.context(), t.request(), w)
}
