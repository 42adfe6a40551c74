package restyffi

import (
	"context"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// ContextHandler is a Handler that also gets the call's context: it has the Lua call's
// deadline (its timeout) and is cancelled when the caller gives up on the call (timeout,
// client abort, ngx.exit, the end of a timer, a killed light thread, the worker exiting),
// so the work done for it can stop: pass ctx to http.NewRequestWithContext, database
// drivers, or select on ctx.Done().
//
// Serve calls HandleContext rather than Handle for a Handler that has both. An error that
// wraps ctx.Err() answers CodeCancelled (see CodeOf); the caller has gone, so the answer
// is freed by the module.
type ContextHandler interface {
	HandleContext(ctx context.Context, req []byte) ([]byte, error)
}

// ContextHandlerFunc adapts a function to ContextHandler (and to Handler, with a
// background context, so a SetupFunc can return it).
type ContextHandlerFunc func(ctx context.Context, req []byte) ([]byte, error)

// HandleContext calls f(ctx, req).
func (f ContextHandlerFunc) HandleContext(ctx context.Context, req []byte) ([]byte, error) {
	return f(ctx, req)
}

// Handle calls f with a context that is never cancelled.
func (f ContextHandlerFunc) Handle(req []byte) ([]byte, error) {
	return f(context.Background(), req)
}

// cancelBatch is how many announcements one cancel_poll call takes at most.
const cancelBatch = 64

// The cancel functions of the task contexts in use, by task handle. Handles are unique
// among the tasks in flight of every queue (they encode a generation), so one registry
// serves all queues, whichever listener hears of a task.
var taskCancels struct {
	mu sync.Mutex
	m  map[uintptr]context.CancelFunc
}

func registerCancel(task unsafe.Pointer, cancel context.CancelFunc) {
	taskCancels.mu.Lock()
	defer taskCancels.mu.Unlock()
	if taskCancels.m == nil {
		taskCancels.m = make(map[uintptr]context.CancelFunc)
	}
	taskCancels.m[uintptr(task)] = cancel
}

func unregisterCancel(task unsafe.Pointer) {
	taskCancels.mu.Lock()
	defer taskCancels.mu.Unlock()
	delete(taskCancels.m, uintptr(task))
}

// cancelByHandle cancels the context of the task with this handle, if it has one.
func cancelByHandle(task uintptr) {
	taskCancels.mu.Lock()
	cancel := taskCancels.m[task]
	taskCancels.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// startCancelListener starts, once per TaskQueue, the goroutine that hears of cancelled
// tasks (ngx_http_resty_ffi_cancel_poll) and cancels their contexts. It exits when the
// runtime is unloaded. Without the module's cancellation functions it starts nothing. (Once
// per TaskQueue, not per tq address: a queue's address may be reused by a later load.)
func (q *TaskQueue) startCancelListener() {
	q.listen.Do(func() {
		bindCancelABI()
		if cancelABI.poll != nil {
			go listenForCancels(q.tq)
		}
	})
}

func listenForCancels(tq unsafe.Pointer) {
	// It spends its life blocked in C: on a thread of its own, never nginx's (a goroutine
	// started here never runs on the thread that called libffi_init).
	runtime.LockOSThread()
	defer func() {
		if r := recover(); r != nil {
			Logf(LevelError, "restyffi: cancel listener panicked: %v", r)
		}
	}()
	size := int(unsafe.Sizeof(uintptr(0)))
	buf := cMalloc(cancelBatch * size)
	if buf == nil {
		Log(LevelError, "restyffi: no memory for the cancel listener: contexts see only deadlines")
		return
	}
	defer cFree(buf)
	handles := unsafe.Slice((*uintptr)(buf), cancelBatch)
	for {
		n := cCancelPoll(tq, buf, cancelBatch)
		if n <= 0 {
			// 0: unloaded (the queue must not be touched again). -1 cannot happen on a
			// thread of ours.
			if n < 0 {
				Log(LevelError, "restyffi: ngx_http_resty_ffi_cancel_poll refused the listener")
			}
			return
		}
		for _, h := range handles[:n] {
			cancelByHandle(h)
		}
	}
}

// taskDeadline converts the module's CLOCK_MONOTONIC deadline of task into a time.Time.
func taskDeadline(task unsafe.Pointer) (time.Time, bool) {
	deadline, now := cDeadline(task)
	if deadline == 0 {
		return time.Time{}, false
	}
	return time.Now().Add(time.Duration(deadline - now)), true
}

// newTaskContext makes the context of a task the runtime holds: with the call's deadline,
// cancelled when the module announces the task cancelled. The caller must call the cancel
// function when the task is answered (before, so a reused handle is never mistaken).
func newTaskContext(q *TaskQueue, task unsafe.Pointer) (context.Context, context.CancelFunc) {
	var ctx context.Context
	var cancel context.CancelFunc
	if deadline, ok := taskDeadline(task); ok {
		ctx, cancel = context.WithDeadline(context.Background(), deadline)
	} else {
		ctx, cancel = context.WithCancel(context.Background())
	}
	if q != nil {
		q.startCancelListener()
	}
	registerCancel(task, cancel)
	// Cancelled before it was registered: the announcement found no context to cancel.
	if cCancelled(task) {
		cancel()
	}
	return ctx, func() {
		unregisterCancel(task)
		cancel()
	}
}

// doneContext is the context of a task answered before anyone asked for it.
func doneContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// Context returns the task's context: it carries the call's deadline (when the Lua call
// has a timeout) and is cancelled when the caller gives up on the call, or once the task
// is answered. The first call starts, once per queue, a goroutine that hears of
// cancellations from the module; Serve starts it at load for a ContextHandler.
func (t *Task) Context() context.Context {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx == nil {
		if t.isAnswered() {
			t.ctx = doneContext()
		} else {
			t.ctx, t.cancel = newTaskContext(t.q, t.task)
		}
	}
	return t.ctx
}

// Cancelled reports whether the caller gave up on the task (one atomic load in the
// module). It is true once the task is answered (as the module says of a stale handle),
// and always false with a module older than cancellation.
func (t *Task) Cancelled() bool {
	if t.isAnswered() {
		return true
	}
	return cCancelled(t.task)
}

// Deadline returns when the caller stops waiting for the task; ok is false when the call
// has no timeout.
func (t *Task) Deadline() (deadline time.Time, ok bool) {
	if t.isAnswered() {
		return time.Time{}, false
	}
	return taskDeadline(t.task)
}

// releaseContext cancels the task's context (if it has one) as it is answered.
func (t *Task) releaseContext() {
	t.mu.Lock()
	cancel := t.cancel
	t.cancel = nil
	t.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
