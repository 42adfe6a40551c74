package restyffi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Config is the cfg string given to ngx.load_ffi(lib, cfg), copied by the SDK (the
// module frees its own copy when libffi_init returns).
type Config struct {
	raw []byte
	set bool
}

// NewConfig returns a Config holding cfg (for tests and for libraries that read cfg
// themselves).
func NewConfig(cfg []byte) Config {
	return Config{raw: append([]byte{}, cfg...), set: true}
}

// IsSet reports whether a cfg was given (Lua passed a string, not nil).
func (c Config) IsSet() bool { return c.set }

// String returns cfg as a string ("" when none was given).
func (c Config) String() string { return string(c.raw) }

// Bytes returns a copy of cfg (empty when none was given).
func (c Config) Bytes() []byte { return append([]byte{}, c.raw...) }

// DecodeJSON decodes cfg, one JSON value, into v. A cfg that is absent or blank leaves v
// as it is (so defaults set in v apply). Unknown object fields and data after the value
// are errors, so a misspelt option is reported at load time rather than ignored.
func (c Config) DecodeJSON(v interface{}) error {
	data := bytes.TrimSpace(c.raw)
	if len(data) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("cfg: bad JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("cfg: bad JSON: data after the first value")
	}
	return nil
}
