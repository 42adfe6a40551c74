# The Go wing's test environment, sourced by ci/test.sh: a redis-server on 127.0.0.1 for
# the Go Redis runtime's tests (t/020-go.t). Idempotent: a server already answering on the
# port is kept. No data is saved (--save ''); its pid file, log and dir are under
# $RESTY_FFI_BUILD/redis.
# Exports TEST_NGINX_REDIS_PORT.

export TEST_NGINX_REDIS_PORT=${TEST_NGINX_REDIS_PORT:-6390}

resty_ffi_redis_up() {
    [ "$(redis-cli -h 127.0.0.1 -p "$TEST_NGINX_REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

resty_ffi_redis_start() {
    local dir=$RESTY_FFI_BUILD/redis i
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
        die "redis-server not found (runtimes/go/packages.txt lists it: run ci/setup.sh)"
    resty_ffi_redis_up && return 0
    mkdir -p "$dir"
    # A stale pid file from a server that died would only confuse the next reader.
    if [ -f "$dir/redis.pid" ] && ! kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
        rm -f "$dir/redis.pid"
    fi
    redis-server --bind 127.0.0.1 --port "$TEST_NGINX_REDIS_PORT" --daemonize yes \
        --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log" \
        --save '' --appendonly no >/dev/null ||
        die "redis-server failed to start on 127.0.0.1:$TEST_NGINX_REDIS_PORT (see $dir/redis.log)"
    for i in $(seq 100); do
        resty_ffi_redis_up && return 0
        sleep 0.05
    done
    die "redis-server does not answer on 127.0.0.1:$TEST_NGINX_REDIS_PORT (see $dir/redis.log)"
}

resty_ffi_redis_start
unset -f resty_ffi_redis_up resty_ffi_redis_start
