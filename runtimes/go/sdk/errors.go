package restyffi

/*
#cgo CFLAGS: -I${SRCDIR}/../../../abi
#include "resty_ffi.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
)

// Result codes the SDK answers with on its own: the reserved rcs of abi/resty_ffi.h
// (RESTY_FFI_RC_*), the same in every resty-ffi SDK and loader. A Handler chooses its own
// with Error: any non-zero int; positive ones are never used by the SDK.
const (
	// CodeError (-1) is the rc of an error that carries no code of its own.
	CodeError = C.RESTY_FFI_RC_ERROR
	// CodePanic (-2) is the rc of a Handler that panicked (or exited its goroutine).
	CodePanic = C.RESTY_FFI_RC_PANICKED
	// CodeDropped (-3) is the rc of a task dropped without an answer. The SDK does not
	// answer with it itself (every task it hands to a Handler is answered); a runtime that
	// polls the queue itself and gives up on a task may.
	CodeDropped = C.RESTY_FFI_RC_DROPPED
	// CodeNoMemory (-4) is the rc of an answer that could not be sent for lack of memory
	// (no memory for the copy the module frees; a response of 2 GiB or more).
	CodeNoMemory = C.RESTY_FFI_RC_NO_MEMORY
	// CodeCancelled (-5) is the rc of a call that was cancelled: the module answers it
	// for a call whose caller gave up before the runtime took it, and the SDK for a
	// handler that returned an error from its cancelled context (context.Canceled or
	// context.DeadlineExceeded in the error's chain, no *Error before them).
	CodeCancelled = C.RESTY_FFI_RC_CANCELLED
)

// Error is an error with the rc that Lua receives: ok, rc, msg = rt:call(req) gives
// false, Code, Error(). A zero Code is sent as CodeError: an error is never a success.
type Error struct {
	Code int
	Err  error
}

// Errorf returns an *Error with the given rc and a message formatted as by fmt.Errorf.
func Errorf(code int, format string, args ...interface{}) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// WithCode attaches rc code to err; WithCode(code, nil) is nil.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Error returns the wrapped error's message (what Lua receives after the rc).
func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("error %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the rc Lua receives for err: 0 for nil, the Code of the first *Error in
// err's chain (CodeError if that is 0), CodeCancelled for an error that wraps
// context.Canceled or context.DeadlineExceeded (a handler that gave up with its
// cancelled context), else CodeError.
func CodeOf(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) && e.Code != 0 {
		return e.Code
	}
	if e == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return CodeCancelled
	}
	return CodeError
}
