package restyffi

import (
	"errors"
	"fmt"
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
