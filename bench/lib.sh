# Sourced by bench/*.sh (after ci/env.sh): the helpers they share.

# A positive integer (no sign, no leading zero).
is_int() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

# Stops a process of ours: TERM, up to 5 s to go, then KILL; reaps it if it is our child.
stop_pid() {   # pid (empty: nothing to stop)
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Writes the bench server's nginx.conf from bench/nginx.conf (its BENCH_* words filled in).
bench_conf() {   # module.so lua-dir echo-socket port out-file
    sed -e "s#BENCH_MODULE#$1#" -e "s#BENCH_USER#$(id -un)#" \
        -e "s#BENCH_LUA_DIR#$BENCH_DIR/lua#" -e "s#BENCH_REPO_LUA#$2#" \
        -e "s#BENCH_SOCKET#$3#" -e "s#BENCH_PORT#$4#" \
        "$BENCH_DIR/nginx.conf" >"$5"
}
