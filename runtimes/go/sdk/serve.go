package restyffi

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Handler answers one request. The returned bytes go to Lua as a string (nil and empty
// both give ""); a non-nil error gives Lua false, CodeOf(err), err.Error().
//
// Serve runs Handle on a goroutine per task, so it must be safe for concurrent use. If
// the Handler also implements io.Closer, Start closes it after the runtime is unloaded
// and every Handle call has returned.
type Handler interface {
	Handle(req []byte) ([]byte, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(req []byte) ([]byte, error)

// Handle calls f(req).
func (f HandlerFunc) Handle(req []byte) ([]byte, error) { return f(req) }

// Serve hands every task of q to h, each on a goroutine of its own, until the runtime is
// unloaded; then it waits for the handlers still running and returns. A ContextHandler
// gets each call's context (see Task.Context): Serve starts the queue's cancel listener
// first. A StreamHandler gets the context and a StreamWriter (see stream.go).
//
// A panic in h becomes an error answer (rc CodePanic, "panic: <value>") and a log line;
// the other tasks are served as before.
func Serve(q *TaskQueue, h Handler) {
	_, withContext := h.(ContextHandler)
	_, streams := h.(StreamHandler)
	if withContext || streams {
		q.startCancelListener()
	}
	serve(q, h)
}

// pendingTask is what serve needs from a task.
type pendingTask interface {
	request() []byte
	// context is the task's context (for a ContextHandler); answer cancels it.
	context() context.Context
	answer(rc int, rsp []byte)
}

// taskSource is what serve needs from a queue: nextTask returns nil once unloaded.
type taskSource interface {
	nextTask() pendingTask
}

func serve(src taskSource, h Handler) {
	var running sync.WaitGroup
	for {
		t := src.nextTask()
		if t == nil {
			break
		}
		running.Add(1)
		go func() {
			defer running.Done()
			handle(t, h)
		}()
		// Let the handler start before this goroutine blocks in the next poll: a goroutine
		// parked in a cgo call keeps its P until sysmon takes it back (~20 µs), and the new
		// handler would wait for that P.
		runtime.Gosched()
	}
	running.Wait()
}

// handle runs h for one task and answers it exactly once, whatever h does.
func handle(t pendingTask, h Handler) {
	answered := false
	defer func() {
		r := recover()
		if answered {
			if r != nil {
				Logf(LevelError, "restyffi: panic after answering a task: %v", r)
			}
			return
		}
		var msg string
		if r != nil {
			msg = fmt.Sprintf("panic: %v", r)
			Logf(LevelError, "restyffi: handler %s", msg)
			Logf(LevelDebug, "restyffi: handler panic stack:\n%s", debug.Stack())
		} else {
			// runtime.Goexit: the deferred calls run, the handler never returned.
			msg = "handler exited without answering (runtime.Goexit)"
			Logf(LevelError, "restyffi: %s", msg)
		}
		t.answer(CodePanic, []byte(msg))
	}()

	var rsp []byte
	var err error
	if sh, ok := h.(StreamHandler); ok {
		rsp, err = handleStream(sh, t)
	} else if ch, ok := h.(ContextHandler); ok {
		rsp, err = ch.HandleContext(t.context(), t.request())
	} else {
		rsp, err = h.Handle(t.request())
	}
	answered = true
	if err != nil {
		t.answer(CodeOf(err), []byte(err.Error()))
		return
	}
	t.answer(0, rsp)
}
