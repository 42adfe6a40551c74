package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	restyffi "github.com/resty-ffi/resty-ffi/runtimes/go/sdk"
)

// store answers requests with one go-redis client (a connection pool shared by every
// call in flight).
type store struct {
	client  *redis.Client
	timeout time.Duration
}

// openStore connects and checks the server answers, so a wrong addr fails the load.
func openStore(c config) (*store, error) {
	client := redis.NewClient(c.options())
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis at %s: %v", c.Addr, err)
	}
	return &store{client: client, timeout: c.timeout()}, nil
}

// Handle runs one request; the SDK calls it on a goroutine per task.
func (s *store) Handle(req []byte) ([]byte, error) {
	r, err := parseRequest(req)
	if err != nil {
		return nil, restyffi.WithCode(codeBadRequest, err)
	}
	wait := time.Duration(r.TimeoutS) * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout+wait)
	defer cancel()

	rsp, err := s.run(ctx, r, wait)
	switch {
	case err == nil:
		return []byte(rsp), nil
	case errors.Is(err, redis.Nil) && r.Cmd == "blpop":
		return nil, restyffi.Errorf(codeTimeout, "blpop %s: nothing within %d s", r.Key, r.TimeoutS)
	case errors.Is(err, redis.Nil):
		return nil, restyffi.Errorf(codeNotFound, "%s: no such key", r.Key)
	default:
		return nil, restyffi.Errorf(codeRedis, "redis %s: %v", r.Cmd, err)
	}
}

func (s *store) run(ctx context.Context, r request, wait time.Duration) (string, error) {
	c := s.client
	switch r.Cmd {
	case "ping":
		return c.Ping(ctx).Result()
	case "set":
		return c.Set(ctx, r.Key, *r.Value, time.Duration(r.TTLMS)*time.Millisecond).Result()
	case "get":
		return c.Get(ctx, r.Key).Result()
	case "incr":
		by := int64(1)
		if r.By != nil {
			by = *r.By
		}
		n, err := c.IncrBy(ctx, r.Key, by).Result()
		return strconv.FormatInt(n, 10), err
	case "del":
		n, err := c.Del(ctx, r.Key).Result()
		return strconv.FormatInt(n, 10), err
	case "rpush":
		n, err := c.RPush(ctx, r.Key, *r.Value).Result()
		return strconv.FormatInt(n, 10), err
	case "blpop":
		kv, err := c.BLPop(ctx, wait, r.Key).Result()
		if err != nil {
			return "", err
		}
		return kv[1], nil
	case "info":
		if r.Section == "" {
			return c.Info(ctx).Result()
		}
		return c.Info(ctx, r.Section).Result()
	}
	// parseRequest lets no other command through.
	return "", fmt.Errorf("unknown cmd %q", r.Cmd)
}

// Close runs after an unload, once every call has returned: it closes the pool.
func (s *store) Close() error {
	return s.client.Close()
}
