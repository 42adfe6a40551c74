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
