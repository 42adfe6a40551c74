package restyffi

import (
	"errors"
	"testing"
	"time"
)

func TestSharedDictWithoutTheModule(t *testing.T) {
	d, err := SharedDict("d")
	if d != nil || !errors.Is(err, ErrNoSharedDicts) {
		t.Fatalf("SharedDict outside nginx: %v, %v", d, err)
	}
}

func TestSharedDictTTLInMs(t *testing.T) {
	for _, c := range []struct {
		ttl  time.Duration
		want int64
	}{{0, 0}, {-time.Second, 0}, {time.Microsecond, 1}, {1500 * time.Millisecond, 1500}} {
		if got := int64(ms(c.ttl)); got != c.want {
			t.Errorf("ms(%v) = %d, want %d", c.ttl, got, c.want)
		}
	}
}
