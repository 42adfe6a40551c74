package restyffi

import (
	"strings"
	"testing"
)

type testConfig struct {
	Addr string `json:"addr"`
	Size int    `json:"size"`
}

func TestConfigAbsentKeepsDefaults(t *testing.T) {
	c := Config{}
	if c.IsSet() || c.String() != "" || len(c.Bytes()) != 0 {
		t.Fatalf("absent cfg: set=%v %q", c.IsSet(), c.String())
	}
	v := testConfig{Addr: "default", Size: 3}
	if err := c.DecodeJSON(&v); err != nil || v.Addr != "default" || v.Size != 3 {
		t.Fatalf("absent cfg: %v %+v", err, v)
	}
	if err := NewConfig([]byte(" \n")).DecodeJSON(&v); err != nil || v.Addr != "default" {
		t.Fatalf("blank cfg: %v %+v", err, v)
	}
}

func TestConfigDecodesJSON(t *testing.T) {
	var v testConfig
	c := NewConfig([]byte(`{"addr":"127.0.0.1:6390","size":8}`))
	if !c.IsSet() {
		t.Fatal("cfg not set")
	}
	if err := c.DecodeJSON(&v); err != nil || v.Addr != "127.0.0.1:6390" || v.Size != 8 {
		t.Fatalf("%v %+v", err, v)
	}
}

func TestConfigRejectsBadJSON(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"addr":`:             "bad JSON",
		`{"adr":"x"}`:          "unknown field",
		`{"addr":"x"} {}`:      "data after",
		`{"addr":"x"} garbage`: "data after",
		`{"size":"eight"}`:     "bad JSON",
		`plain words`:          "bad JSON",
	} {
		var v testConfig
		err := NewConfig([]byte(cfg)).DecodeJSON(&v)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "cfg: ") {
			t.Errorf("cfg %q: got %v, want an error with %q", cfg, err, want)
		}
	}
}

func TestConfigIsACopy(t *testing.T) {
	raw := []byte("plain")
	c := NewConfig(raw)
	raw[0] = 'X'
	b := c.Bytes()
	b[1] = 'Y'
	if c.String() != "plain" {
		t.Fatalf("cfg changed: %q", c.String())
	}
}
