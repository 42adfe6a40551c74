package restyffi

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ErrAnswered is returned by Task.Respond for a task that was already answered.
var ErrAnswered = errors.New("restyffi: task already answered")

// TaskQueue is a runtime's task queue: the tq argument of libffi_init.
type TaskQueue struct {
	tq     unsafe.Pointer
	listen sync.Once // starts the cancel listener (see Task.Context)
}

// QueueFromPointer wraps the tq argument of libffi_init. It fails when the process has
// no runtime ABI (the library was not loaded by nginx with ngx_http_resty_ffi_module).
func QueueFromPointer(tq unsafe.Pointer) (*TaskQueue, error) {
	if err := bindABI(); err != nil {
		return nil, err
	}
	if tq == nil {
		return nil, errors.New("restyffi: nil task queue")
	}
	return &TaskQueue{tq: tq}, nil
}

// Poll blocks until the next task and returns it; it returns nil once the runtime is
// unloaded (every task queued before the unload has been handed out by then). After nil,
// Poll must not be called again.
//
// Each Task must be answered exactly once, with Task.Respond: the Lua caller waits for it.
func (q *TaskQueue) Poll() *Task {
	p := cPoll(q.tq)
	if p == nil {
		return nil
	}
	return &Task{task: p, q: q}
}

// Task is one call from Lua, owned by the runtime until it is answered.
type Task struct {
	task     unsafe.Pointer
	q        *TaskQueue
	answered uint32

	mu     sync.Mutex         // guards ctx and cancel
	ctx    context.Context    // made by the first Context call
	cancel context.CancelFunc // nil once answered

	stream streamGate // sends happen before the answer (stream.go)
}

func (t *Task) isAnswered() bool { return atomic.LoadUint32(&t.answered) != 0 }

// Request returns a copy of the request bytes. Call it before Respond.
func (t *Task) Request() []byte {
	if t.isAnswered() {
		return nil
	}
	return cRequest(t.task)
}

// Respond answers the task: rc 0 is success (Lua gets true, rsp), any other rc an error
// (Lua gets false, rc, rsp). rsp is copied. A second answer returns ErrAnswered and is
// not sent. An answer longer than a C int can hold is replaced by an error answer (rc
// CodeNoMemory); an rc that does not fit in a C int is sent as CodeError.
func (t *Task) Respond(rc int, rsp []byte) error {
	if !atomic.CompareAndSwapUint32(&t.answered, 0, 1) {
		return ErrAnswered
	}
	if len(rsp) > math.MaxInt32 {
		rc, rsp = CodeNoMemory, []byte("restyffi: response too large (more than 2 GiB)")
	}
	if rc < math.MinInt32 || rc > math.MaxInt32 {
		rc = CodeError
	}
	// Before the answer: after it, the handle is stale.
	t.stream.close()
	t.releaseContext()
	cRespond(t.task, rc, rsp)
	return nil
}

// nextTask and the two methods below let Serve run on TaskQueue (and on fakes in tests).
func (q *TaskQueue) nextTask() pendingTask {
	if t := q.Poll(); t != nil {
		return t
	}
	return nil
}

func (t *Task) request() []byte { return t.Request() }

func (t *Task) context() context.Context { return t.Context() }

func (t *Task) answer(rc int, rsp []byte) { _ = t.Respond(rc, rsp) }
