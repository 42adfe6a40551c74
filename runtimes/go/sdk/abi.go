package restyffi

/*
#cgo CFLAGS: -I${SRCDIR}/../../../abi
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "resty_ffi.h"

// The runtime ABI exported by ngx_http_resty_ffi_module. The functions are looked up at
// run time (dlsym), so the library links without the module and works with a module
// that lacks the optional log function.
typedef void *(*rf_task_poll_fn)(void *tq);
typedef char *(*rf_get_req_fn)(void *task, int *len);
typedef void (*rf_respond_fn)(void *task, int rc, char *rsp, int rsp_len);
typedef void (*rf_respond_copy_fn)(void *task, int rc, const char *rsp, size_t len);
typedef void (*rf_log_fn)(int level, const char *msg, int len);
typedef int (*rf_task_cancelled_fn)(void *task);
typedef int64_t (*rf_task_deadline_fn)(void *task);
typedef int (*rf_cancel_poll_fn)(void *tq, void **tasks, int max);

static void *rf_lookup(const char *name) {
	return dlsym(RTLD_DEFAULT, name);
}

static void *rf_task_poll(void *fn, void *tq) {
	return ((rf_task_poll_fn)fn)(tq);
}

static char *rf_get_req(void *fn, void *task, int *len) {
	return ((rf_get_req_fn)fn)(task, len);
}

// Answers with data, which the module copies into the task's own reused buffer
// (ngx_http_resty_ffi_respond_copy, copy_fn): no malloc() here and no free() on the
// worker's thread. An empty answer is "", not NULL, so Lua reads an empty string, not nil.
// With a module older than that (copy_fn NULL), a malloc()ed copy the module frees; without
// memory the answer is rc (or RESTY_FFI_RC_NO_MEMORY where rc was 0) and no body: never a
// crash.
static void rf_respond(void *fn, void *copy_fn, void *task, int rc, const char *data, int len) {
	if (copy_fn != NULL) {
		((rf_respond_copy_fn)copy_fn)(task, rc, len > 0 ? data : "", len > 0 ? (size_t)len : 0);
		return;
	}
	size_t size = len > 0 ? (size_t)len : 1;
	char *rsp = malloc(size);
	if (rsp == NULL) {
		((rf_respond_fn)fn)(task, rc != 0 ? rc : RESTY_FFI_RC_NO_MEMORY, NULL, 0);
		return;
	}
	if (len > 0) {
		memcpy(rsp, data, (size_t)len);
	} else {
		rsp[0] = '\0';
		len = 0;
	}
	((rf_respond_fn)fn)(task, rc, rsp, len);
}

static void rf_log(void *fn, int level, const char *msg, int len) {
	((rf_log_fn)fn)(level, msg, len);
}

static int rf_task_cancelled(void *fn, void *task) {
	return ((rf_task_cancelled_fn)fn)(task);
}

static int64_t rf_task_deadline(void *fn, void *task) {
	return ((rf_task_deadline_fn)fn)(task);
}

// tasks is C memory (room for max handles): the handles never sit in Go memory.
static int rf_cancel_poll(void *fn, void *tq, void **tasks, int max) {
	return ((rf_cancel_poll_fn)fn)(tq, tasks, max);
}

// CLOCK_MONOTONIC in nanoseconds: the clock of ngx_http_resty_ffi_task_deadline.
static int64_t rf_monotonic_ns(void) {
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		return 0;
	}
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// The module's functions, found once per process.
var abi struct {
	once    sync.Once
	err     error
	poll    unsafe.Pointer
	getReq  unsafe.Pointer
	respond unsafe.Pointer
	// nil in modules older than ngx_http_resty_ffi_respond_copy (and in the original).
	respondCopy unsafe.Pointer
}

// The cancellation functions, absent in modules older than issue 16 (and in the original
// lua-resty-ffi): then no task is ever seen cancelled and none has a deadline.
var cancelABI struct {
	once      sync.Once
	cancelled unsafe.Pointer
	deadline  unsafe.Pointer
	poll      unsafe.Pointer
}

var logFunc struct {
	once sync.Once
	fn   unsafe.Pointer // nil: no ngx_http_resty_ffi_log in this process
}

func lookup(name string) unsafe.Pointer {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return C.rf_lookup(cname)
}

// bindABI finds the task functions of ngx_http_resty_ffi_module in the process.
func bindABI() error {
	abi.once.Do(func() {
		abi.poll = lookup("ngx_http_lua_ffi_task_poll")
		abi.getReq = lookup("ngx_http_lua_ffi_get_req")
		abi.respond = lookup("ngx_http_lua_ffi_respond")
		abi.respondCopy = lookup("ngx_http_resty_ffi_respond_copy")
		if abi.poll == nil || abi.getReq == nil || abi.respond == nil {
			abi.err = fmt.Errorf("the runtime ABI (ngx_http_lua_ffi_task_poll, _get_req, _respond) " +
				"is not in this process: load the library from nginx with ngx_http_resty_ffi_module")
		}
	})
	return abi.err
}

// cPoll blocks until the next task of tq; nil once the runtime is unloaded.
func cPoll(tq unsafe.Pointer) unsafe.Pointer {
	return C.rf_task_poll(abi.poll, tq)
}

// cRequest copies the request bytes of a task the caller has not answered yet.
func cRequest(task unsafe.Pointer) []byte {
	var n C.int
	p := C.rf_get_req(abi.getReq, task, &n)
	if p == nil || n <= 0 {
		return []byte{}
	}
	return C.GoBytes(unsafe.Pointer(p), n)
}

// cRespond answers a task with a copy of rsp (made by the module, or in C memory the module
// takes over); len(rsp) must fit in a C int. rsp is Go memory without Go pointers in it,
// read only during the call (cgo's rules for passing Go memory to C).
func cRespond(task unsafe.Pointer, rc int, rsp []byte) {
	var data *C.char
	if len(rsp) > 0 {
		data = (*C.char)(unsafe.Pointer(&rsp[0]))
	}
	C.rf_respond(abi.respond, abi.respondCopy, task, C.int(rc), data, C.int(len(rsp)))
}

// cLog hands msg to ngx_http_resty_ffi_log; false if the module has no such function.
func cLog(level Level, msg []byte) bool {
	logFunc.once.Do(func() {
		logFunc.fn = lookup("ngx_http_resty_ffi_log")
	})
	if logFunc.fn == nil {
		return false
	}
	if len(msg) == 0 {
		return true
	}
	C.rf_log(logFunc.fn, C.int(level), (*C.char)(unsafe.Pointer(&msg[0])), C.int(len(msg)))
	return true
}

func bindCancelABI() {
	cancelABI.once.Do(func() {
		cancelABI.cancelled = lookup("ngx_http_resty_ffi_task_cancelled")
		cancelABI.deadline = lookup("ngx_http_resty_ffi_task_deadline")
		cancelABI.poll = lookup("ngx_http_resty_ffi_cancel_poll")
	})
}

// cCancelled reports whether the caller gave up on task (false without the function).
func cCancelled(task unsafe.Pointer) bool {
	bindCancelABI()
	if cancelABI.cancelled == nil {
		return false
	}
	return C.rf_task_cancelled(cancelABI.cancelled, task) == 1
}

// cDeadline is the task's deadline in CLOCK_MONOTONIC ns and now on the same clock;
// deadline 0: the call has no timeout (or the module cannot tell).
func cDeadline(task unsafe.Pointer) (deadline, now int64) {
	bindCancelABI()
	if cancelABI.deadline == nil {
		return 0, 0
	}
	deadline = int64(C.rf_task_deadline(cancelABI.deadline, task))
	if deadline == 0 {
		return 0, 0
	}
	return deadline, int64(C.rf_monotonic_ns())
}

// cCancelPoll blocks until tasks of tq that the runtime holds are cancelled and stores
// up to max of them at buf (C memory); it returns how many, 0 once unloaded, -1 where it
// cannot be used (no such function, nginx's thread).
func cCancelPoll(tq, buf unsafe.Pointer, max int) int {
	bindCancelABI()
	if cancelABI.poll == nil {
		return -1
	}
	return int(C.rf_cancel_poll(cancelABI.poll, tq, (*unsafe.Pointer)(buf), C.int(max)))
}

// cMalloc allocates n bytes of C memory (nil when out of memory); free it with cFree.
func cMalloc(n int) unsafe.Pointer { return C.malloc(C.size_t(n)) }

func cFree(p unsafe.Pointer) { C.free(p) }

// cString copies a C string that may be NULL; ok is false for NULL.
func cString(p unsafe.Pointer) (b []byte, ok bool) {
	if p == nil {
		return nil, false
	}
	return C.GoBytes(p, C.int(C.strlen((*C.char)(p)))), true
}
