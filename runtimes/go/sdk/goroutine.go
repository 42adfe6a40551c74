package restyffi

import (
	"bytes"
	"fmt"
	"runtime/debug"
)

// Go runs f on a new goroutine that recovers from a panic in f, logs it with its stack
// at error level ("restyffi: goroutine panic: <value>" and the stack, one log entry), and
// ends that goroutine: the nginx worker and the other calls go on.
//
// Use it instead of a plain go statement for every goroutine a Handler (or anything
// else in a runtime) starts. The SDK recovers panics only in the goroutine that runs
// Handle: by Go's rules a panic that reaches the top of any other goroutine ends the
// whole process, which here is the nginx worker with every request it serves. A plain
// go statement must recover itself (a deferred recover at the top of its function).
//
// Go does not answer a task: the Handler answers its own task as usual. A goroutine that
// answers a task of its own uses GoTask.
func Go(f func()) {
	go runRecovered(f, nil)
}

// GoTask runs f(t) on a new goroutine, recovering a panic as Go does. If f panics, or
// calls runtime.Goexit, before t was answered, GoTask answers t with CodePanic
// ("panic: <value>", as a panicking Handler is answered), so the Lua caller never waits
// forever. If t was already answered, or f returns normally, t is left as it is (f may
// have handed t to another goroutine to answer).
//
// It is for runtimes that poll the queue themselves (TaskQueue.Poll) and run each task
// on a goroutine of its own:
//
//	for t := q.Poll(); t != nil; t = q.Poll() {
//		restyffi.GoTask(t, func(t *restyffi.Task) {
//			t.Respond(0, work(t.Request()))
//		})
//	}
func GoTask(t *Task, f func(t *Task)) {
	go runRecovered(func() { f(t) }, t)
}

// responder is what runRecovered needs of a task: *Task, or a fake in tests.
type responder interface {
	Respond(rc int, rsp []byte) error
}

// runRecovered calls f; if f panics or exits its goroutine (runtime.Goexit), it logs why
// and answers t (when not nil and not answered yet) with CodePanic.
func runRecovered(f func(), t responder) {
	returned := false
	defer func() {
		if returned {
			return
		}
		if r := recover(); r != nil {
			msg := fmt.Sprintf("panic: %v", r)
			Logf(LevelError, "restyffi: goroutine %s\n%s", msg, panicStack())
			if t != nil {
				_ = t.Respond(CodePanic, []byte(msg)) // ErrAnswered: f had answered
			}
			return
		}
		// runtime.Goexit: a goroutine of Go just ends; one of GoTask answers its task.
		const msg = "goroutine exited without answering (runtime.Goexit)"
		if t != nil && t.Respond(CodePanic, []byte(msg)) == nil {
			Logf(LevelError, "restyffi: %s", msg)
		}
	}()
	f()
	returned = true
}

// panicStack is the stack of the panicking goroutine from the frame that panicked on:
// the frames of debug.Stack, of the recovering function and of panic itself are left
// out, so the frames that matter fit in one log line (the module cuts long ones).
func panicStack() []byte {
	stack := debug.Stack()
	header := stack
	if i := bytes.IndexByte(stack, '\n'); i >= 0 {
		header = stack[:i+1] // "goroutine N [running]:"
	}
	i := bytes.Index(stack, []byte("\npanic("))
	if i < 0 {
		return stack
	}
	rest := stack[i+1:]
	// Skip panic's two lines: the call and its file:line.
	for n := 0; n < 2; n++ {
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			return stack
		}
		rest = rest[j+1:]
	}
	return append(append([]byte{}, header...), rest...)
}
