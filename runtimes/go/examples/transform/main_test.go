package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"strings"
	"testing"
)

// chunks records each Write as one chunk, as a StreamWriter sends them.
type chunks struct{ got [][]byte }

func (c *chunks) Write(p []byte) (int, error) {
	c.got = append(c.got, append([]byte(nil), p...))
	return len(p), nil
}

func (c *chunks) joined() []byte { return bytes.Join(c.got, nil) }

func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcxyz ABC-09é\n"[i%16]
	}
	return b
}

func TestUpperInChunks(t *testing.T) {
	req := body(3*ChunkSize + 100)
	var c chunks
	if err := transform(context.Background(), "upper", req, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.got) != 4 || len(c.got[0]) != ChunkSize || len(c.got[3]) != 100 {
		t.Fatalf("%d chunks", len(c.got))
	}
	want := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, string(req))
	if string(c.joined()) != want {
		t.Fatal("not the ASCII upper case of the request")
	}
}

func TestGzipRoundTrip(t *testing.T) {
	req := body(5*ChunkSize + 7)
	var c chunks
	if err := transform(context.Background(), "gzip", req, &c); err != nil {
		t.Fatal(err)
	}
	for _, ch := range c.got {
		if len(ch) > ChunkSize {
			t.Fatalf("a chunk of %d bytes", len(ch))
		}
	}
	zr, err := gzip.NewReader(bytes.NewReader(c.joined()))
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(back, req) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestCancelledStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var c chunks
	if err := transform(ctx, "upper", body(ChunkSize), &c); err != context.Canceled || len(c.got) != 0 {
		t.Fatalf("%v, %d chunks", err, len(c.got))
	}
}
