// Package entry defines libffi_init, the function ngx_http_resty_ffi_module calls when it
// loads a runtime library, and runs the SetupFunc registered with Register.
//
// Import it from the main package of a library built with -buildmode=c-shared and call
// Register from an init function. A library that defines libffi_init itself must not
// import this package (the symbol would be defined twice).
package entry

import "C"

import (
	"sync"
	"unsafe"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
)

var registry struct {
	mu    sync.Mutex
	setup restyffi.SetupFunc
	count int
}

// Register sets the function that builds the runtime's Handler from cfg each time the
// library is loaded. Call it once, from an init function: libffi_init fails (with a
// logged reason) when nothing, or more than one function, was registered.
func Register(setup restyffi.SetupFunc) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	registry.setup = setup
	registry.count++
}

func registered() (restyffi.SetupFunc, int) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return registry.setup, registry.count
}

// Return codes of libffi_init for a registry that is not usable.
const (
	initNotRegistered   = 10
	initRegisteredTwice = 11
)

//export libffi_init
func libffi_init(cfg *C.char, tq unsafe.Pointer) C.int {
	setup, count := registered()
	switch {
	case count == 0 || setup == nil:
		restyffi.Log(restyffi.LevelError,
			"restyffi/entry: no runtime registered: call entry.Register from an init function")
		return initNotRegistered
	case count > 1:
		restyffi.Logf(restyffi.LevelError,
			"restyffi/entry: entry.Register was called %d times: register one runtime per library", count)
		return initRegisteredTwice
	}
	return C.int(restyffi.Start(unsafe.Pointer(cfg), tq, setup))
}
