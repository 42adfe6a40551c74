// Command goruntime is the Go runtime of the t/ suite (libffi_go_test.so). Each request
// is a command:
//
//	echo <bytes>         the bytes
//	error <rc> <text>    an *restyffi.Error with that rc
//	plain <text>         a plain error (rc 1)
//	panic <text>         the handler panics
//	goexit               the handler calls runtime.Goexit
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

	restyffi "github.com/resty-ffi/resty-ffi/sdk/go"
	"github.com/resty-ffi/resty-ffi/sdk/go/entry"
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

func split(b []byte) (head, rest []byte) {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

func main() {}
