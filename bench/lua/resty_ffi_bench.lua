-- The benchmark server's handlers (bench/nginx.conf): sequential and paced call loops, the
-- wrk endpoints and the memory loop. Three backends answer the same echo:
--   rust  the bridge with the Rust echo runtime (libffi_echo.so)
--   go    the bridge with the Go echo runtime (libffi_go_echo.so)
--   unix  a cosocket to bench-echo-server (4-byte big-endian length, then the payload)

local ffi = require "ffi"
local bit = require "bit"
local resty_ffi = require "resty_ffi"

local band, rshift, lshift, bor = bit.band, bit.rshift, bit.lshift, bit.bor
local str_char, str_byte, str_rep, str_format = string.char, string.byte, string.rep, string.format
local tonumber = tonumber
local new_tab = require "table.new"

ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } resty_ffi_bench_timespec_t;
int clock_gettime(int clk_id, resty_ffi_bench_timespec_t *tp);
int clock_getcpuclockid(int pid, int *clock_id);
]]
local CLOCK_MONOTONIC = 1
local CLOCK_PROCESS_CPUTIME_ID = 2
local ts = ffi.new("resty_ffi_bench_timespec_t")
local cpu_ts = ffi.new("resty_ffi_bench_timespec_t")
local clock_id_buf = ffi.new("int[1]")

local CALL_TIMEOUT_MS = 10000
local SOCKET_TIMEOUT_MS = 10000
local MAX_CALLS = 10000000
local MAX_SIZE = 1048576
local POOL_SIZE = 256

local RUNTIMES = { rust = "ffi_echo", go = "ffi_go_echo" }

local _M = {}

local socket_path
local payloads = {}   -- size -> payload string


local function now_ns()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1e9 + tonumber(ts.tv_nsec)
end


-- CPU time of a whole process so far, in ns: user + system time of all its threads
-- (exited ones included), the sum /proc/<pid>/stat gives as utime + stime, without the
-- 10 ms tick rounding. pid nil: this worker (with its runtime threads). nil if unreadable.
local function cpu_ns(pid)
    local clock = CLOCK_PROCESS_CPUTIME_ID
    if pid then
        if ffi.C.clock_getcpuclockid(pid, clock_id_buf) ~= 0 then
            return nil
        end
        clock = clock_id_buf[0]
    end
    if ffi.C.clock_gettime(clock, cpu_ts) ~= 0 then
        return nil
    end
    return tonumber(cpu_ts.tv_sec) * 1e9 + tonumber(cpu_ts.tv_nsec)
end


-- utime + stime of a whole process from /proc/<pid>/stat (pid nil: this worker), in clock
-- ticks; kept beside cpu_ns as a cross-check. nil if unreadable.
local function stat_ticks(pid)
    local f = io.open("/proc/" .. (pid and tostring(pid) or "self") .. "/stat", "r")
    if not f then
        return nil
    end
    local line = f:read("*l")
    f:close()
    -- Fields after the command name "(...)": state is field 3, utime 14, stime 15.
    local rest = line and line:match("%) (.*)$")
    if not rest then
        return nil
    end
    local fields, i = {}, 3
    for w in rest:gmatch("%S+") do
        fields[i] = w
        if i == 15 then
            break
        end
        i = i + 1
    end
    local utime, stime = tonumber(fields[14]), tonumber(fields[15])
    if not utime or not stime then
        return nil
    end
    return utime + stime
end


-- A snapshot of the CPU counters of this worker and (if given) the echo server. The clocks
-- are read right next to the measured stretch ("before": last, "after": first), so reading
-- /proc/<pid>/stat is not counted in them.
local function cpu_snapshot(echo_pid, when)
    local snap = {}
    local function clocks()
        snap.echo = echo_pid and cpu_ns(echo_pid)
        snap.worker = cpu_ns()
    end
    if when == "after" then
        clocks()
    end
    snap.worker_ticks = stat_ticks()
    snap.echo_ticks = echo_pid and stat_ticks(echo_pid)
    if when ~= "after" then
        clocks()
    end
    return snap
end


-- "cpu_ns=... echo_cpu_ns=... ticks=... echo_ticks=..." between two snapshots ("-": unknown).
local function cpu_fields(a, b)
    local function diff(k, fmt)
        if a[k] and b[k] then
            return str_format(fmt, b[k] - a[k])
        end
        return "-"
    end
    return str_format("cpu_ns=%s echo_cpu_ns=%s ticks=%s echo_ticks=%s",
                      diff("worker", "%.0f"), diff("echo", "%.0f"),
                      diff("worker_ticks", "%d"), diff("echo_ticks", "%d"))
end


local function payload(size)
    local p = payloads[size]
    if not p then
        -- Not all one byte, so an echo that mixes up calls would show.
        local unit = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-"
        p = str_rep(unit, math.floor(size / #unit)) .. unit:sub(1, size % #unit)
        payloads[size] = p
    end
    return p
end


local function frame_header(len)
    return str_char(band(rshift(len, 24), 255), band(rshift(len, 16), 255),
                    band(rshift(len, 8), 255), band(len, 255))
end
local UNIX_HEADER_512 = frame_header(512)


local function load_runtime(impl)
    local lib = RUNTIMES[impl]
    if not lib then
        return nil, "unknown impl " .. tostring(impl)
    end
    return ngx.load_ffi(lib, nil, { timeout = CALL_TIMEOUT_MS })
end


local function unix_connect()
    local sock = ngx.socket.tcp()
    sock:settimeouts(SOCKET_TIMEOUT_MS, SOCKET_TIMEOUT_MS, SOCKET_TIMEOUT_MS)
    local ok, err = sock:connect("unix:" .. socket_path)
    if not ok then
        return nil, "connect unix:" .. socket_path .. ": " .. tostring(err)
    end
    return sock
end


-- One framed echo over an open cosocket.
local function unix_call(sock, hdr, req)
    local sent, err = sock:send({ hdr, req })
    if not sent then
        return nil, "send: " .. tostring(err)
    end
    local h
    h, err = sock:receive(4)
    if not h then
        return nil, "receive header: " .. tostring(err)
    end
    local b1, b2, b3, b4 = str_byte(h, 1, 4)
    local len = bor(lshift(b1, 24), lshift(b2, 16), lshift(b3, 8), b4)
    if len == 0 then
        return ""
    end
    local body
    body, err = sock:receive(len)
    if not body then
        return nil, "receive body: " .. tostring(err)
    end
    return body
end


-- A function doing one echo of `req`, and a function to call when done. impl "none" does
-- no call at all (the paced mode's baseline: the cost of the pacing itself).
local function backend(impl)
    if impl == "none" then
        return function(req) return req end, function() end
    end
    if impl == "unix" then
        local sock, err = unix_connect()
        if not sock then
            return nil, err
        end
        local hdr_cache = {}
        local call = function(req)
            local n = #req
            local hdr = hdr_cache[n]
            if not hdr then
                hdr = frame_header(n)
                hdr_cache[n] = hdr
            end
            return unix_call(sock, hdr, req)
        end
        local done = function()
            sock:setkeepalive(60000, POOL_SIZE)
        end
        return call, done
    end

    -- rust_nodl: the Rust echo, each call without a timeout, so without a deadline either
    -- (issue 16: what a deadline costs a call).
    local opts
    if impl == "rust_nodl" then
        impl, opts = "rust", { timeout = 0 }
    end
    local rt, err = load_runtime(impl)
    if not rt then
        return nil, "load_ffi(" .. tostring(RUNTIMES[impl]) .. "): " .. tostring(err)
    end
    local call = function(req)
        local ok, res, rerr = rt:echo(req, opts)
        if not ok then
            return nil, "call: " .. tostring(res) .. " " .. tostring(rerr or "")
        end
        return res
    end
    return call, function() end
end


local function int_arg(name, default, max)
    local v = tonumber(ngx.var["arg_" .. name] or default)
    if not v or v < 1 or v > max or v ~= math.floor(v) then
        return nil
    end
    return v
end


local function fail(status, msg)
    ngx.status = status
    ngx.say("error: ", msg)
    ngx.log(ngx.ERR, "bench: ", msg)
    return ngx.exit(status)
end


function _M.init(path)
    socket_path = path
    payload(512)
end


-- The echo server's pid from ?echo_pid= (its CPU is measured beside the worker's), or nil.
local function echo_pid_arg()
    local pid = tonumber(ngx.var.arg_echo_pid or "")
    if pid and pid >= 1 and pid == math.floor(pid) then
        return pid
    end
    return nil
end


-- " p50_us=... p90_us=... p99_us=... over20us=N" of call times in ns.
local function percentiles(times)
    local n = #times
    local over = 0
    for i = 1, n do
        if times[i] > 20000 then
            over = over + 1
        end
    end
    table.sort(times)
    local function at(q)
        return times[math.max(1, math.floor(n * q))] / 1000
    end
    return str_format(" p50_us=%.3f p90_us=%.3f p99_us=%.3f over20us=%d", at(0.5), at(0.9),
                      at(0.99), over)
end


-- GET /seq?impl=rust|go|unix&size=BYTES&n=CALLS[&echo_pid=PID]: a warm-up of n/10 calls,
-- then n timed, with the CPU time the worker (all threads) and the echo server spent on them.
--   -> us_per_call=... calls=... errors=... cpu_ns=... echo_cpu_ns=... ticks=... echo_ticks=...
function _M.sequential()
    local impl = ngx.var.arg_impl
    local size = int_arg("size", 512, MAX_SIZE)
    local n = int_arg("n", 20000, MAX_CALLS)
    if not size or not n then
        return fail(400, "bad size or n")
    end
    local echo_pid = echo_pid_arg()
    local call, done = backend(impl)
    if not call then
        return fail(502, done)
    end
    local req = payload(size)

    for _ = 1, math.max(1, math.floor(n / 10)) do
        local res, err = call(req)
        if not res then
            return fail(502, err)
        end
    end

    local errors = 0
    -- ?hist=1: each call timed too (two clock reads more a call), for the percentiles.
    local times = ngx.var.arg_hist and new_tab(n, 0)
    local cpu_before = cpu_snapshot(echo_pid, "before")
    local start = now_ns()
    local t = start
    for i = 1, n do
        local res, err = call(req)
        if not res then
            return fail(502, err)
        end
        if res ~= req then
            errors = errors + 1
        end
        if times then
            local t2 = now_ns()
            times[i] = t2 - t
            t = t2
        end
    end
    local elapsed = now_ns() - start
    local cpu_after = cpu_snapshot(echo_pid, "after")
    done()
    ngx.say(str_format("us_per_call=%.3f calls=%d errors=%d %s%s", elapsed / 1000 / n, n, errors,
                       cpu_fields(cpu_before, cpu_after), times and percentiles(times) or ""))
end


local MAX_PACED_CALLS = 100000


-- GET /paced?impl=rust|go|unix|none&size=BYTES&n=CALLS&interval_us=US[&echo_pid=PID]: calls at a
-- fixed rate, one every interval_us on an absolute schedule (start + i * interval), the
-- request sleeping (ngx.sleep, whole milliseconds, rounded up) until each one is due. A call
-- that comes due while the one before is still running starts at once; one more than an
-- interval late moves the schedule (no bursts to catch up). First n/20 paced calls as a
-- warm-up, then n measured: the latency of each call alone (not the sleep), and the CPU time
-- of the worker (all threads) and the echo server over the whole paced stretch, sleeps
-- included. Bounded in time as well: it gives up 30 s after n * interval * 3.
--   -> us_per_call=<mean> p50_us=... p99_us=... max_us=... calls=... errors=... late=...
--      wall_ms=... rate_per_s=... cpu_ns=... echo_cpu_ns=... ticks=... echo_ticks=...
function _M.paced()
    local impl = ngx.var.arg_impl
    local size = int_arg("size", 512, MAX_SIZE)
    local n = int_arg("n", 2000, MAX_PACED_CALLS)
    local interval_us = int_arg("interval_us", 2000, 1000000)
    if not size or not n or not interval_us then
        return fail(400, "bad size, n or interval_us")
    end
    local echo_pid = echo_pid_arg()
    local call, done = backend(impl)
    if not call then
        return fail(502, done)
    end
    local req = payload(size)
    local interval_ns = interval_us * 1000
    local warmup = math.max(1, math.floor(n / 20))
    local deadline = now_ns() + (warmup + n) * interval_ns * 3 + 30e9

    local lat = {}
    local errors, late, count = 0, 0, 0
    local due = now_ns()
    local cpu_before, start
    for i = 1, warmup + n do
        if i == warmup + 1 then
            -- The measured stretch starts one interval after the last warm-up call.
            cpu_before = cpu_snapshot(echo_pid, "before")
            start = now_ns()
        end
        local wait = due - now_ns()
        if wait > 0 then
            ngx.sleep(math.ceil(wait / 1e6) / 1000)
        end
        local t0 = now_ns()
        local res, err = call(req)
        local t1 = now_ns()
        if not res then
            return fail(502, err)
        end
        if i > warmup then
            count = count + 1
            lat[count] = t1 - t0
            if res ~= req then
                errors = errors + 1
            end
        end
        due = due + interval_ns
        if t1 > due + interval_ns then
            -- The next call would start more than an interval late: restart the schedule.
            if i > warmup then
                late = late + 1
            end
            due = t1
        end
        if t1 > deadline then
            return fail(504, str_format("paced loop over its time limit after %d calls", count))
        end
    end
    -- Up to when the next call would have been due: the idle tail of the last interval.
    local wait = due - now_ns()
    if wait > 0 then
        ngx.sleep(math.ceil(wait / 1e6) / 1000)
    end
    local wall = now_ns() - start
    local cpu_after = cpu_snapshot(echo_pid, "after")
    done()

    local sum = 0
    for i = 1, count do
        sum = sum + lat[i]
    end
    table.sort(lat)
    local function pct(p)
        return lat[math.max(1, math.min(count, math.ceil(count * p)))]
    end
    ngx.say(str_format("us_per_call=%.3f p50_us=%.3f p99_us=%.3f max_us=%.3f calls=%d errors=%d"
                       .. " late=%d wall_ms=%.1f rate_per_s=%.1f %s",
                       sum / count / 1000, pct(0.5) / 1000, pct(0.99) / 1000, lat[count] / 1000,
                       count, errors, late, wall / 1e6, count / (wall / 1e9),
                       cpu_fields(cpu_before, cpu_after)))
end


function _M.warmup()
    for _, impl in ipairs({ "rust", "go", "unix" }) do
        local call, done = backend(impl)
        local res, err
        if call then
            res, err = call(payload(512))
            done()
        else
            err = done
        end
        ngx.say(impl, " ", res == payload(512) and "ok" or ("unavailable: " .. tostring(err)))
    end
end


function _M.say()
    ngx.say(payload(512))
end


local ngx_sleep = ngx.sleep

function _M.yield_say()
    ngx_sleep(0)
    ngx.say(payload(512))
end


-- The same with the module's telemetry off for this request's call (issue 17: its cost).
function _M.ffi_echo_no_telemetry()
    local metrics = require "resty.ffi.metrics"
    local was = metrics.set_telemetry(false)
    _M.ffi_echo()
    metrics.set_telemetry(was)
end


-- What a user writes: the runtime loaded once per worker, then one call per request (no
-- closure per request, which LuaJIT cannot compile and would bill to the bridge).
local echo_rt

function _M.ffi_echo()
    local rt = echo_rt
    if not rt then
        local err
        rt, err = load_runtime("rust")
        if not rt then
            return fail(502, "load_ffi(" .. RUNTIMES.rust .. "): " .. tostring(err))
        end
        echo_rt = rt
    end
    local ok, res, rerr = rt:echo(payload(512))
    if not ok then
        return fail(502, "call: " .. tostring(res) .. " " .. tostring(rerr or ""))
    end
    ngx.say(res)
end


function _M.unix_echo()
    local sock, err = unix_connect()
    if not sock then
        return fail(502, err)
    end
    local req = payload(512)
    local res
    res, err = unix_call(sock, UNIX_HEADER_512, req)
    if not res then
        return fail(502, err)
    end
    sock:setkeepalive(60000, POOL_SIZE)
    ngx.say(res)
end


-- GET /mem?calls=N: N sequential 512-byte calls on the Rust echo runtime, then a full
-- Lua GC (so RSS compares retained memory, not garbage waiting for the collector).
function _M.memory_calls()
    local n = int_arg("calls", 10000, MAX_CALLS)
    if not n then
        return fail(400, "bad calls")
    end
    local call, err = backend("rust")
    if not call then
        return fail(502, err)
    end
    local req = payload(512)
    for _ = 1, n do
        local res
        res, err = call(req)
        if not res then
            return fail(502, err)
        end
    end
    collectgarbage()
    ngx.say("calls=", n, " live_tasks=", resty_ffi.live_tasks())
end


return _M
