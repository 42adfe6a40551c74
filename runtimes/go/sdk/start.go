package restyffi

import (
	"fmt"
	"io"
	"unsafe"
)

// SetupFunc builds a runtime's Handler from its cfg when the library is loaded. An error
// makes the load fail: Lua's ngx.load_ffi returns nil and an error, and the reason is
// logged.
type SetupFunc func(cfg Config) (Handler, error)

// Return codes of Start (libffi_init's rc; any non-zero one fails the load).
const (
	initOK       = 0
	initNoQueue  = 1 // no runtime ABI in the process, or a NULL tq
	initSetupErr = 2 // setup returned an error or no Handler
	initPanic    = 3 // setup panicked
)

// Start does the work of libffi_init: it copies cfg (a C string or nil), runs setup,
// and serves tq with the Handler on a new goroutine. It returns libffi_init's rc: 0, or
// non-zero after logging why. A library that defines its own libffi_init returns it:
//
//	//export libffi_init
//	func libffi_init(cfg *C.char, tq unsafe.Pointer) C.int {
//		return C.int(restyffi.Start(unsafe.Pointer(cfg), tq, setup))
//	}
//
// When the runtime is unloaded and every Handle call has returned, a Handler that is
// also an io.Closer is closed.
func Start(cfg, tq unsafe.Pointer, setup SetupFunc) (rc int) {
	defer func() {
		if r := recover(); r != nil {
			Logf(LevelError, "restyffi: runtime setup panicked: %v", r)
			rc = initPanic
		}
	}()

	q, err := QueueFromPointer(tq)
	if err != nil {
		Logf(LevelError, "restyffi: %v", err)
		return initNoQueue
	}
	raw, set := cString(cfg)
	conf := Config{raw: raw, set: set}
	h, err := setup(conf)
	if err == nil && h == nil {
		err = fmt.Errorf("setup returned no Handler")
	}
	if err != nil {
		Logf(LevelError, "restyffi: runtime init failed: %v", err)
		return initSetupErr
	}
	if _, ok := h.(ContextHandler); ok {
		// Now, so that it listens before the first task is taken.
		q.startCancelListener()
	}
	go run(q, h)
	return initOK
}

// run serves src with h until unload, then closes h if it is an io.Closer.
func run(src taskSource, h Handler) {
	serve(src, h)
	closer, ok := h.(io.Closer)
	if !ok {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			Logf(LevelError, "restyffi: Close panicked after unload: %v", r)
		}
	}()
	if err := closer.Close(); err != nil {
		Logf(LevelWarn, "restyffi: Close after unload: %v", err)
	}
}
