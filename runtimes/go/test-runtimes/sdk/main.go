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
//
// cfg: "fail" makes setup fail, "panic" makes it panic; anything else is ignored.
package main

import (
	"bytes"
	"errors"
	"runtime"
	"strconv"
	"sync/atomic"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
	"github.com/resty-ffi/resty-ffi/runtimes/go/sdk/entry"
)

var closes int64

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

func split(b []byte) (head, rest []byte) {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

func main() {}
