// Command goruntime-raw is a Go runtime written the way the original lua-resty-ffi's Go
// examples are: raw cgo, no SDK (libffi_go_raw.so, for t/022-go-fresh-workers.t). The
// module's functions are declared in the cgo preamble and resolved when nginx loads the
// library; libffi_init starts a goroutine that polls the task queue and hands every task
// to a goroutine of its own, which holds the task handle (a `void *`, so an unsafe.Pointer
// to Go) on its stack while it works.
//
// The work (package deep) is chosen to move that stack: each request is JSON,
//
//	{"id": 7, "depth": 2000, "text": "hello"}
//
// and the answer is JSON too, after a recursion `depth` calls deep (each frame about
// 300 bytes, so 2000 calls grow a new goroutine's stack from a few KiB past 512 KiB):
//
//	{"id":7,"depth":2000,"levels":2000,"sum":<sum of the text's bytes times depth>,"text":"hello"}
//
// A request that is not such JSON gets rc 1 and the parse error. Go copies a goroutine's
// stack each time it grows and checks every pointer it moves: a handle below 4096 there
// is "invalid pointer found on stack", a fatal error that ends the nginx worker.
package main

/*
#cgo LDFLAGS: -shared
#include <stdlib.h>

void *ngx_http_lua_ffi_task_poll(void *tq);
char *ngx_http_lua_ffi_get_req(void *task, int *len);
void ngx_http_lua_ffi_respond(void *task, int rc, char *rsp, int rsp_len);
*/
import "C"

import (
	"unsafe"

	"github.com/resty-ffi/resty-ffi/runtimes/go/test-runtimes/raw/deep"
)

//export libffi_init
func libffi_init(cfg *C.char, tq unsafe.Pointer) C.int {
	go func() {
		for {
			task := C.ngx_http_lua_ffi_task_poll(tq)
			if task == nil {
				return // the runtime was unloaded
			}
			go func(task unsafe.Pointer) {
				var n C.int
				p := C.ngx_http_lua_ffi_get_req(task, &n)
				req := C.GoBytes(unsafe.Pointer(p), n)
				// task stays live in this frame while deep.Work grows the stack.
				rc, out := deep.Work(req)
				// C.CString allocates with malloc: the module frees the answer.
				C.ngx_http_lua_ffi_respond(task, C.int(rc), C.CString(string(out)), C.int(len(out)))
			}(task)
		}
	}()
	return 0
}

func main() {}
