package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// A request is one JSON object:
//
//	{"cmd":"ping"}                                  "PONG"
//	{"cmd":"set","key":"k","value":"v"}             "OK"   ("ttl_ms": n expires the key)
//	{"cmd":"get","key":"k"}                         the value, or rc 404
//	{"cmd":"incr","key":"n"}                        the new number ("by": n adds n)
//	{"cmd":"del","key":"k"}                         how many keys were deleted
//	{"cmd":"rpush","key":"l","value":"v"}           the list's new length
//	{"cmd":"blpop","key":"l","timeout_s":5}         the first value, waiting for one; rc 408
//	                                                when none came in time (whole seconds,
//	                                                as Redis counts them)
//	{"cmd":"info","section":"clients"}              the INFO text (section optional)
//
// Result codes (rc) of a failed call.
const (
	codeBadRequest = 400 // not a request this runtime understands
	codeNotFound   = 404 // get: no such key
	codeTimeout    = 408 // blpop: nothing came within timeout_s
	codeRedis      = 502 // Redis failed or was unreachable
)

type request struct {
	Cmd      string  `json:"cmd"`
	Key      string  `json:"key"`
	Value    *string `json:"value"`
	By       *int64  `json:"by"`
	TTLMS    int64   `json:"ttl_ms"`
	TimeoutS int64   `json:"timeout_s"`
	Section  string  `json:"section"`
}

// needs tells, for each command, whether it needs a key and a value.
var needs = map[string]struct{ key, value bool }{
	"ping":  {false, false},
	"set":   {true, true},
	"get":   {true, false},
	"incr":  {true, false},
	"del":   {true, false},
	"rpush": {true, true},
	"blpop": {true, false},
	"info":  {false, false},
}

// parseRequest decodes and checks a request; its errors are for the caller to read.
func parseRequest(b []byte) (request, error) {
	var r request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("bad request: %v", err)
	}
	if dec.More() {
		return r, errors.New("bad request: data after the JSON object")
	}
	need, ok := needs[r.Cmd]
	switch {
	case !ok:
		return r, fmt.Errorf("bad request: unknown cmd %q", r.Cmd)
	case need.key && r.Key == "":
		return r, fmt.Errorf("bad request: %s needs a key", r.Cmd)
	case need.value && r.Value == nil:
		return r, fmt.Errorf("bad request: %s needs a value", r.Cmd)
	case r.TTLMS < 0 || r.TimeoutS < 0:
		return r, errors.New("bad request: ttl_ms and timeout_s must be >= 0")
	case r.Cmd == "blpop" && r.TimeoutS == 0:
		return r, errors.New("bad request: blpop needs a timeout_s (it never waits forever)")
	}
	return r, nil
}
