package main

import (
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
)

// config is the runtime's cfg, a JSON object:
//
//	{"addr":"127.0.0.1:6379", "password":"", "db":0, "pool_size":0, "timeout_ms":1000}
//
// addr is required; pool_size 0 is go-redis's default (10 per CPU); timeout_ms bounds
// each command (blpop waits its own timeout_s on top of it).
type config struct {
	Addr      string `json:"addr"`
	Password  string `json:"password"`
	DB        int    `json:"db"`
	PoolSize  int    `json:"pool_size"`
	TimeoutMS int    `json:"timeout_ms"`
}

const defaultTimeout = time.Second

func parseConfig(cfg restyffi.Config) (config, error) {
	var c config
	if !cfg.IsSet() {
		return c, errors.New(`cfg: a JSON object with "addr" is required`)
	}
	if err := cfg.DecodeJSON(&c); err != nil {
		return c, err
	}
	switch {
	case c.Addr == "":
		return c, errors.New(`cfg: "addr" is required (host:port)`)
	case c.DB < 0:
		return c, errors.New(`cfg: "db" must be >= 0`)
	case c.PoolSize < 0:
		return c, errors.New(`cfg: "pool_size" must be >= 0`)
	case c.TimeoutMS < 0:
		return c, errors.New(`cfg: "timeout_ms" must be >= 0`)
	}
	return c, nil
}

// timeout is the time one command may take.
func (c config) timeout() time.Duration {
	if c.TimeoutMS == 0 {
		return defaultTimeout
	}
	return time.Duration(c.TimeoutMS) * time.Millisecond
}

func (c config) options() *redis.Options {
	return &redis.Options{
		Addr:                  c.Addr,
		Password:              c.Password,
		DB:                    c.DB,
		PoolSize:              c.PoolSize,
		DialTimeout:           c.timeout(),
		ReadTimeout:           c.timeout(),
		WriteTimeout:          c.timeout(),
		ContextTimeoutEnabled: true,
		// CLIENT SETINFO is unknown before Redis 7.2 (Debian 12 has 7.0).
		DisableIdentity: true,
	}
}
