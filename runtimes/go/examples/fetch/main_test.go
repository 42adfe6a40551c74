package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
)

func TestFetchAnswersAndCancels(t *testing.T) {
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte("fine"))
		case "/missing":
			http.Error(w, "no such thing", http.StatusNotFound)
		case "/slow":
			select {
			case <-r.Context().Done(): // the client closed the connection
				close(gone)
			case <-time.After(5 * time.Second):
			}
		}
	}))
	defer srv.Close()
	f := &fetcher{base: srv.URL, client: srv.Client()}

	body, err := f.HandleContext(context.Background(), []byte("/ok"))
	if string(body) != "fine" || err != nil {
		t.Fatalf("/ok: %q %v", body, err)
	}
	_, err = f.HandleContext(context.Background(), []byte(srv.URL+"/missing"))
	if restyffi.CodeOf(err) != http.StatusNotFound {
		t.Fatalf("/missing: %v (rc %d)", err, restyffi.CodeOf(err))
	}
	if _, err = f.HandleContext(context.Background(), []byte("ftp://x")); restyffi.CodeOf(err) != 400 {
		t.Fatalf("bad URL: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = f.HandleContext(ctx, []byte("/slow"))
	if restyffi.CodeOf(err) != restyffi.CodeCancelled {
		t.Fatalf("/slow cancelled: %v (rc %d)", err, restyffi.CodeOf(err))
	}
	select {
	case <-gone:
	case <-time.After(2 * time.Second):
		t.Fatal("the upstream never saw its client go")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("cancelled after %v", d)
	}
}
