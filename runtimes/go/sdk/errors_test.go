package restyffi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

func TestCodeOf(t *testing.T) {
	base := errors.New("plain")
	cases := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{base, CodeError},
		{Errorf(7, "went %s", "wrong"), 7},
		{Errorf(-1, "negative"), -1},
		{Errorf(0, "zero is not success"), CodeError},
		{fmt.Errorf("wrapped: %w", Errorf(404, "not found")), 404},
		{WithCode(502, base), 502},
		{context.Canceled, CodeCancelled},
		{fmt.Errorf("Get \"http://x/\": %w", context.DeadlineExceeded), CodeCancelled},
		{WithCode(504, context.DeadlineExceeded), 504},
		{Errorf(0, "%w", context.Canceled), CodeError},
	}
	for _, c := range cases {
		if got := CodeOf(c.err); got != c.want {
			t.Errorf("CodeOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestErrorMessageAndUnwrap(t *testing.T) {
	base := errors.New("redis down")
	err := WithCode(502, base)
	if err.Error() != "redis down" || !errors.Is(err, base) {
		t.Fatalf("%v", err)
	}
	if WithCode(5, nil) != nil {
		t.Fatal("WithCode(5, nil) must be nil")
	}
	if (&Error{Code: 9}).Error() != "error 9" {
		t.Fatal("empty Error message")
	}
}

// The SDK's codes are the reserved rcs of abi/resty_ffi.h, the same in every language.
func TestCodesMatchABIHeader(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "..", "abi", "resty_ffi.h"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]int{}
	re := regexp.MustCompile(`(?m)^#define\s+(RESTY_FFI_RC_\w+)\s+\(?\s*(-?\d+)\s*\)?`)
	for _, m := range re.FindAllStringSubmatch(string(text), -1) {
		v, err := strconv.Atoi(m[2])
		if err != nil {
			t.Fatal(err)
		}
		defined[m[1]] = v
	}
	for _, c := range []struct {
		name       string
		code, want int
	}{
		{"RESTY_FFI_RC_ERROR", CodeError, -1},
		{"RESTY_FFI_RC_PANICKED", CodePanic, -2},
		{"RESTY_FFI_RC_DROPPED", CodeDropped, -3},
		{"RESTY_FFI_RC_NO_MEMORY", CodeNoMemory, -4},
		{"RESTY_FFI_RC_CANCELLED", CodeCancelled, -5},
	} {
		got, ok := defined[c.name]
		if !ok {
			t.Errorf("%s not defined in abi/resty_ffi.h", c.name)
			continue
		}
		if got != c.code || c.code != c.want {
			t.Errorf("%s: header %d, SDK %d, want %d", c.name, got, c.code, c.want)
		}
	}
}
