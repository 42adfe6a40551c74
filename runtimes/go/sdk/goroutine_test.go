package restyffi

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stderrCapture collects what is written to file descriptor 2, where Log writes outside
// nginx. It moves the descriptor, not the os.Stderr variable, which goroutines that log
// read concurrently.
type stderrCapture struct {
	saved int
	w     *os.File
	mu    sync.Mutex
	buf   bytes.Buffer
	done  chan struct{}
}

func captureStderr(t *testing.T) *stderrCapture {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	c := &stderrCapture{saved: saved, w: w, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer r.Close()
		p := make([]byte, 4096)
		for {
			n, err := r.Read(p)
			c.mu.Lock()
			c.buf.Write(p[:n])
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c
}

// text is what was written so far.
func (c *stderrCapture) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// waitFor waits up to 5 s for s to be written; it returns everything written.
func (c *stderrCapture) waitFor(s string) string {
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(c.text(), s) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return c.text()
}

// stop puts the descriptor back and returns everything written.
func (c *stderrCapture) stop() string {
	_ = syscall.Dup3(c.saved, 2, 0)
	syscall.Close(c.saved)
	c.w.Close()
	<-c.done
	return c.text()
}

// recordingTask answers once, like Task.Respond, and records the answer.
type recordingTask struct {
	mu      sync.Mutex
	answers int
	rc      int
	rsp     string
}

func (t *recordingTask) Respond(rc int, rsp []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.answers > 0 {
		return ErrAnswered
	}
	t.answers++
	t.rc, t.rsp = rc, string(rsp)
	return nil
}

// runWaiting runs runRecovered(f, t) on a goroutine of its own (f may end it with
// runtime.Goexit) and waits for it.
func runWaiting(f func(), t responder) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runRecovered(f, t)
	}()
	<-done
}

func panicsInAFunctionOfItsOwn() {
	panic("deliberate goroutine panic")
}

func TestGoRecoversAndLogsThePanicWithItsStack(t *testing.T) {
	c := captureStderr(t)
	defer c.stop()
	Go(panicsInAFunctionOfItsOwn)
	out := c.waitFor("panicsInAFunctionOfItsOwn(")
	if !strings.Contains(out, "[error] restyffi: goroutine panic: deliberate goroutine panic\ngoroutine ") {
		t.Fatalf("no error line with the panic and the stack:\n%s", out)
	}
	if !strings.Contains(out, "panicsInAFunctionOfItsOwn") {
		t.Errorf("the stack lacks the function that panicked:\n%s", out)
	}
	if strings.Contains(out, "runtime/debug.Stack") || strings.Contains(out, "\npanic(") {
		t.Errorf("the stack was not trimmed to the panicking frames:\n%s", out)
	}
}

func TestRunRecoveredAnswersAnUnansweredTask(t *testing.T) {
	c := captureStderr(t)
	defer c.stop()

	panicked := &recordingTask{}
	runWaiting(func() { panic("boom") }, panicked)
	if panicked.answers != 1 || panicked.rc != CodePanic || panicked.rsp != "panic: boom" {
		t.Errorf("panic before answering: %+v", panicked)
	}

	exited := &recordingTask{}
	runWaiting(func() { runtime.Goexit() }, exited)
	if exited.answers != 1 || exited.rc != CodePanic ||
		exited.rsp != "goroutine exited without answering (runtime.Goexit)" {
		t.Errorf("Goexit before answering: %+v", exited)
	}

	late := &recordingTask{}
	runWaiting(func() {
		_ = late.Respond(0, []byte("done"))
		panic("after the answer")
	}, late)
	if late.answers != 1 || late.rc != 0 || late.rsp != "done" {
		t.Errorf("panic after answering must keep the answer: %+v", late)
	}

	// A normal return leaves the task alone: f may have handed it on.
	handedOn := &recordingTask{}
	runWaiting(func() {}, handedOn)
	if handedOn.answers != 0 {
		t.Errorf("a normal return answered the task: %+v", handedOn)
	}

	// Without a task a Goexit just ends the goroutine.
	runWaiting(func() { runtime.Goexit() }, nil)
}

func TestGoTaskPassesTheTaskAndKeepsAnAnswer(t *testing.T) {
	c := captureStderr(t)
	defer c.stop()
	// An answered Task: Respond returns ErrAnswered without reaching the module, so the
	// test runs outside nginx.
	task := &Task{answered: 1}
	got := make(chan *Task, 1)
	GoTask(task, func(tk *Task) {
		got <- tk
		panic("after the answer")
	})
	if tk := <-got; tk != task {
		t.Fatalf("f got %p, want %p", tk, task)
	}
	if out := c.waitFor("goroutine panic: after the answer"); !strings.Contains(out, "after the answer") {
		t.Fatalf("no log line for the panic:\n%s", out)
	}
}

func TestPanicStackStartsAtThePanic(t *testing.T) {
	var stack string
	func() {
		defer func() {
			recover()
			stack = string(panicStack())
		}()
		panicsInAFunctionOfItsOwn()
	}()
	if !strings.HasPrefix(stack, "goroutine ") {
		t.Errorf("no goroutine header:\n%s", stack)
	}
	lines := strings.Split(stack, "\n")
	if len(lines) < 2 || !strings.Contains(lines[1], "panicsInAFunctionOfItsOwn") {
		t.Errorf("the first frame is not the panicking function:\n%s", stack)
	}
}
