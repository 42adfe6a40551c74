package restyffi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// fakeTask records the answers it gets.
type fakeTask struct {
	req     []byte
	mu      sync.Mutex
	answers int
	rc      int
	rsp     []byte
	ctx     context.Context // made by context(); cancel is called at the answer
	cancel  context.CancelFunc
}

func (t *fakeTask) request() []byte { return t.req }

func (t *fakeTask) context() context.Context {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx == nil {
		t.ctx, t.cancel = context.WithCancel(context.Background())
	}
	return t.ctx
}

func (t *fakeTask) answer(rc int, rsp []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.answers++
	t.rc, t.rsp = rc, append([]byte{}, rsp...)
	if t.cancel != nil {
		t.cancel()
	}
}

// fakeQueue hands out its tasks, then nil (the unload).
type fakeQueue struct {
	mu    sync.Mutex
	tasks []*fakeTask
	next  int
}

func newFakeQueue(reqs ...string) *fakeQueue {
	q := &fakeQueue{}
	for _, r := range reqs {
		q.tasks = append(q.tasks, &fakeTask{req: []byte(r)})
	}
	return q
}

func (q *fakeQueue) nextTask() pendingTask {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next == len(q.tasks) {
		return nil
	}
	q.next++
	return q.tasks[q.next-1]
}

func (q *fakeQueue) check(t *testing.T, i, rc int, rsp string) {
	t.Helper()
	ft := q.tasks[i]
	if ft.answers != 1 || ft.rc != rc || string(ft.rsp) != rsp {
		t.Errorf("task %d (%q): %d answer(s), rc=%d rsp=%q; want 1, rc=%d rsp=%q",
			i, ft.req, ft.answers, ft.rc, ft.rsp, rc, rsp)
	}
}

func testHandler(req []byte) ([]byte, error) {
	switch s := string(req); s {
	case "panic":
		panic("boom")
	case "goexit":
		runtime.Goexit()
	case "coded":
		return nil, Errorf(7, "went wrong")
	case "plain":
		return nil, errors.New("plain error")
	case "nil":
		return nil, nil
	default:
		return append([]byte("echo:"), req...), nil
	}
	return nil, nil
}

func TestServeAnswersEachTaskOnce(t *testing.T) {
	q := newFakeQueue("a", "panic", "b", "goexit", "coded", "plain", "nil", "")
	serve(q, HandlerFunc(testHandler))
	q.check(t, 0, 0, "echo:a")
	q.check(t, 1, CodePanic, "panic: boom")
	q.check(t, 2, 0, "echo:b")
	q.check(t, 3, CodePanic, "handler exited without answering (runtime.Goexit)")
	q.check(t, 4, 7, "went wrong")
	q.check(t, 5, CodeError, "plain error")
	q.check(t, 6, 0, "")
	q.check(t, 7, 0, "echo:")
}

// Every handler blocks until all of them run: it only finishes if each task has a
// goroutine of its own.
func TestServeRunsHandlersConcurrently(t *testing.T) {
	const n = 100
	reqs := make([]string, n)
	for i := range reqs {
		reqs[i] = strconv.Itoa(i)
	}
	q := newFakeQueue(reqs...)
	var started sync.WaitGroup
	started.Add(n)
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	serve(q, HandlerFunc(func(req []byte) ([]byte, error) {
		started.Done()
		<-all
		return req, nil
	}))
	for i := range reqs {
		q.check(t, i, 0, reqs[i])
	}
}

type closingHandler struct {
	inFlight int32
	closed   int32
	sawBusy  int32
}

func (h *closingHandler) Handle(req []byte) ([]byte, error) {
	atomic.AddInt32(&h.inFlight, 1)
	defer atomic.AddInt32(&h.inFlight, -1)
	runtime.Gosched()
	return req, nil
}

func (h *closingHandler) Close() error {
	if atomic.LoadInt32(&h.inFlight) != 0 {
		atomic.StoreInt32(&h.sawBusy, 1)
	}
	atomic.AddInt32(&h.closed, 1)
	return nil
}

var _ io.Closer = (*closingHandler)(nil)

func TestRunClosesAfterEveryHandlerReturned(t *testing.T) {
	q := newFakeQueue("1", "2", "3", "4", "5", "6", "7", "8")
	h := &closingHandler{}
	run(q, h)
	if h.closed != 1 || h.sawBusy != 0 {
		t.Fatalf("closed %d times, saw handlers running: %v", h.closed, h.sawBusy != 0)
	}
	for i := range q.tasks {
		q.check(t, i, 0, string(q.tasks[i].req))
	}
}

func TestStartWithoutModuleFails(t *testing.T) {
	called := false
	rc := Start(nil, unsafe.Pointer(&called), func(Config) (Handler, error) {
		called = true
		return HandlerFunc(testHandler), nil
	})
	if rc == 0 || called {
		t.Fatalf("Start outside nginx: rc=%d, setup called=%v", rc, called)
	}
	if _, err := QueueFromPointer(nil); err == nil {
		t.Fatal("QueueFromPointer outside nginx must fail")
	}
}

// A ContextHandler gets each task's context; an error from its cancelled context answers
// CodeCancelled; the context is cancelled once the task is answered.
func TestServeGivesContextHandlersTheTaskContext(t *testing.T) {
	q := newFakeQueue("wait", "echo", "plain")
	started := make(chan struct{})
	var waitCtx context.Context
	var mu sync.Mutex
	go func() {
		<-started
		// The module announced the "wait" task cancelled.
		mu.Lock()
		q.tasks[0].cancel()
		mu.Unlock()
	}()
	serve(q, ContextHandlerFunc(func(ctx context.Context, req []byte) ([]byte, error) {
		switch string(req) {
		case "wait":
			mu.Lock()
			waitCtx = ctx
			mu.Unlock()
			close(started)
			<-ctx.Done()
			return nil, fmt.Errorf("gave up: %w", ctx.Err())
		case "plain":
			return nil, errors.New("not about the context")
		}
		return req, ctx.Err()
	}))
	q.check(t, 0, CodeCancelled, "gave up: context canceled")
	q.check(t, 1, 0, "echo")
	q.check(t, 2, CodeError, "not about the context")
	if waitCtx.Err() != context.Canceled {
		t.Fatalf("the wait context: %v", waitCtx.Err())
	}
	for i, ft := range q.tasks {
		if ft.ctx == nil || ft.ctx.Err() == nil {
			t.Errorf("task %d: context not cancelled at the answer", i)
		}
	}
}

// A plain Handler never asks for a context (no registry entry, no timer per call).
func TestServePlainHandlerMakesNoContext(t *testing.T) {
	q := newFakeQueue("a", "b")
	serve(q, HandlerFunc(testHandler))
	for i, ft := range q.tasks {
		if ft.ctx != nil {
			t.Errorf("task %d got a context", i)
		}
	}
	// ContextHandlerFunc is a Handler too, with a background context.
	rsp, err := ContextHandlerFunc(func(ctx context.Context, req []byte) ([]byte, error) {
		return req, ctx.Err()
	}).Handle([]byte("x"))
	if string(rsp) != "x" || err != nil {
		t.Fatalf("Handle: %q %v", rsp, err)
	}
}

// Outside nginx (no cancellation functions in the process) a Task's context has no
// deadline, is cancelled by an announcement of its handle and at the answer, and is
// removed from the registry then.
func TestTaskContextRegistry(t *testing.T) {
	var slot [2]byte // any address stands for a handle here; never dereferenced
	tk := &Task{task: unsafe.Pointer(&slot[0])}
	ctx := tk.Context()
	if _, ok := ctx.Deadline(); ok || ctx.Err() != nil || tk.Context() != ctx {
		t.Fatalf("fresh context: deadline set or done (%v), or not the same twice", ctx.Err())
	}
	if _, ok := tk.Deadline(); ok || tk.Cancelled() {
		t.Fatal("no module: no deadline, never cancelled")
	}
	cancelByHandle(uintptr(unsafe.Pointer(&slot[0])))
	if ctx.Err() != context.Canceled {
		t.Fatalf("announced: %v", ctx.Err())
	}
	tk.releaseContext()
	taskCancels.mu.Lock()
	_, still := taskCancels.m[uintptr(unsafe.Pointer(&slot[0]))]
	taskCancels.mu.Unlock()
	if still {
		t.Fatal("registry entry left after the answer")
	}
	// Asked for after the answer: already done.
	late := &Task{task: unsafe.Pointer(&slot[1]), answered: 1}
	if late.Context().Err() == nil || !late.Cancelled() {
		t.Fatal("an answered task's context must be done")
	}
}
