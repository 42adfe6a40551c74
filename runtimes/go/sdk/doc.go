// Package restyffi is the Go SDK for resty-ffi runtimes: shared libraries, built with
// cgo as -buildmode=c-shared, that OpenResty Lua code calls through ngx.load_ffi without
// blocking the nginx worker.
//
// A runtime is a Handler. The SDK polls the runtime's task queue, copies each request
// into a []byte, runs the Handler for it on a goroutine of its own and copies the answer
// into memory the module frees. A returned error becomes a non-zero rc for Lua (see
// Error and CodeOf); a panicking Handler becomes an error answer and the runtime keeps
// serving.
//
// The shortest runtime registers a SetupFunc with the entry package, which defines the
// library's libffi_init:
//
//	package main
//
//	import (
//		restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
//		"github.com/resty-ffi/resty-ffi/runtimes/go/sdk/entry"
//	)
//
//	func init() {
//		entry.Register(func(cfg restyffi.Config) (restyffi.Handler, error) {
//			return restyffi.HandlerFunc(func(req []byte) ([]byte, error) {
//				return req, nil
//			}), nil
//		})
//	}
//
//	func main() {}
//
// A library that defines libffi_init itself passes its arguments to Start, or builds on
// QueueFromPointer, Serve, TaskQueue.Poll and Task.Respond.
//
// Only the goroutine that runs Handle is protected: a panic in any goroutine a handler
// starts with a plain go statement ends the nginx worker. Start such goroutines with Go
// (or GoTask, which also answers the task), or recover in them.
//
// Log writes into nginx's error.log through the module's ngx_http_resty_ffi_log, which
// the SDK looks up at run time: where it is absent (an older module, or no nginx at all,
// as in tests) messages go to stderr.
package restyffi
