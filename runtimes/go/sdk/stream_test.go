package restyffi

import (
	"context"
	"errors"
	"testing"
	"unsafe"
)

func TestStreamCancelledIsACancellation(t *testing.T) {
	if !errors.Is(ErrStreamCancelled, context.Canceled) {
		t.Fatal("ErrStreamCancelled does not wrap context.Canceled")
	}
	if got := CodeOf(ErrStreamCancelled); got != CodeCancelled {
		t.Fatalf("CodeOf(ErrStreamCancelled) = %d, want %d", got, CodeCancelled)
	}
	if got := CodeOf(ErrNotStream); got != CodeError {
		t.Fatalf("CodeOf(ErrNotStream) = %d, want %d", got, CodeError)
	}
}

func TestOutsideNginxNothingStreams(t *testing.T) {
	// No module in a test process: the stream functions are not found, nothing is called.
	task := &Task{task: unsafe.Pointer(&struct{ b byte }{})}
	if task.Streaming() {
		t.Fatal("a task streams without the module")
	}
	if err := task.Send([]byte("x")); !errors.Is(err, ErrNotStream) {
		t.Fatalf("Send = %v", err)
	}
	if ok, err := task.TrySend([]byte("x")); ok || !errors.Is(err, ErrNotStream) {
		t.Fatalf("TrySend = %v, %v", ok, err)
	}
	if n, err := task.Writer().Write([]byte("abc")); n != 0 || !errors.Is(err, ErrNotStream) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	var w *StreamWriter
	if w.Streaming() {
		t.Fatal("a nil writer streams")
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrNotStream) {
		t.Fatalf("nil Write = %v", err)
	}
}

func TestServePrefersTheStreamHandler(t *testing.T) {
	q := newFakeQueue("a", "b")
	serve(q, StreamHandlerFunc(func(ctx context.Context, req []byte, w *StreamWriter) ([]byte, error) {
		if w.Streaming() {
			return nil, errors.New("a fake task streams")
		}
		if ctx == nil {
			return nil, errors.New("no context")
		}
		return append([]byte("s:"), req...), nil
	}))
	q.check(t, 0, 0, "s:a")
	q.check(t, 1, 0, "s:b")
}
