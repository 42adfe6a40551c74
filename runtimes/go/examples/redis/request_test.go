package main

import (
	"strings"
	"testing"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
)

func TestParseRequestAcceptsCommands(t *testing.T) {
	for _, s := range []string{
		`{"cmd":"ping"}`,
		`{"cmd":"set","key":"k","value":""}`,
		`{"cmd":"set","key":"k","value":"v","ttl_ms":100}`,
		`{"cmd":"get","key":"k"}`,
		`{"cmd":"incr","key":"n","by":-3}`,
		`{"cmd":"del","key":"k"}`,
		`{"cmd":"rpush","key":"l","value":"x"}`,
		`{"cmd":"blpop","key":"l","timeout_s":1}`,
		`{"cmd":"info","section":"clients"}`,
	} {
		if _, err := parseRequest([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestParseRequestRefusesBadOnes(t *testing.T) {
	for s, want := range map[string]string{
		``:                              "bad request",
		`{"cmd":"flushall"}`:            "unknown cmd",
		`{"cmd":"get"}`:                 "needs a key",
		`{"cmd":"set","key":"k"}`:       "needs a value",
		`{"cmd":"get","key":"k","x":1}`: "unknown field",
		`{"cmd":"get","key":"k"} {}`:    "data after",
		`{"cmd":"blpop","key":"l"}`:     "timeout_s",
		`{"cmd":"set","key":"k","value":"v","ttl_ms":-1}`: ">= 0",
	} {
		_, err := parseRequest([]byte(s))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error with %q", s, err, want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	c, err := parseConfig(restyffi.NewConfig([]byte(`{"addr":"127.0.0.1:6390","timeout_ms":250}`)))
	if err != nil || c.Addr != "127.0.0.1:6390" || c.timeout().Milliseconds() != 250 {
		t.Fatalf("%+v %v", c, err)
	}
	if d, _ := parseConfig(restyffi.NewConfig([]byte(`{"addr":"x:1"}`))); d.timeout() != defaultTimeout {
		t.Fatal("default timeout")
	}
	for s, want := range map[string]string{
		`{}`:                      "addr",
		`{"addr":"x:1","db":-1}`:  "db",
		`{"addr":"x:1","port":1}`: "unknown field",
		`not json`:                "bad JSON",
	} {
		if _, err := parseConfig(restyffi.NewConfig([]byte(s))); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", s, err, want)
		}
	}
	if _, err := parseConfig(restyffi.Config{}); err == nil {
		t.Error("absent cfg must fail")
	}
}
