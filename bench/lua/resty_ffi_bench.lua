-- The benchmark server's handlers (bench/nginx.conf): sequential call loops, the wrk
-- endpoints and the memory loop. Three backends answer the same echo:
--   rust  the bridge with the Rust echo runtime (libffi_echo.so)
--   go    the bridge with the Go echo runtime (libffi_go_echo.so)
--   unix  a cosocket to bench-echo-server (4-byte big-endian length, then the payload)

local ffi = require "ffi"
local bit = require "bit"
local resty_ffi = require "resty_ffi"

local band, rshift, lshift, bor = bit.band, bit.rshift, bit.lshift, bit.bor
local str_char, str_byte, str_rep, str_format = string.char, string.byte, string.rep, string.format
local tonumber = tonumber

ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } resty_ffi_bench_timespec_t;
int clock_gettime(int clk_id, resty_ffi_bench_timespec_t *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("resty_ffi_bench_timespec_t")

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


-- A function doing one echo of `req`, and a function to call when done.
local function backend(impl)
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

    local rt, err = load_runtime(impl)
    if not rt then
        return nil, "load_ffi(" .. tostring(RUNTIMES[impl]) .. "): " .. tostring(err)
    end
    local call = function(req)
        local ok, res, rerr = rt:echo(req)
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


-- GET /seq?impl=rust|go|unix&size=BYTES&n=CALLS: a warm-up of n/10 calls, then n timed.
function _M.sequential()
    local impl = ngx.var.arg_impl
    local size = int_arg("size", 512, MAX_SIZE)
    local n = int_arg("n", 20000, MAX_CALLS)
    if not size or not n then
        return fail(400, "bad size or n")
    end
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
    local start = now_ns()
    for _ = 1, n do
        local res, err = call(req)
        if not res then
            return fail(502, err)
        end
        if res ~= req then
            errors = errors + 1
        end
    end
    local elapsed = now_ns() - start
    done()
    ngx.say(str_format("us_per_call=%.3f calls=%d errors=%d", elapsed / 1000 / n, n, errors))
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


function _M.ffi_echo()
    local call, err = backend("rust")
    if not call then
        return fail(502, err)
    end
    local res
    res, err = call(payload(512))
    if not res then
        return fail(502, err)
    end
    ngx.say(res)
end


function _M.unix_echo()
    local call, done = backend("unix")
    if not call then
        return fail(502, done)
    end
    local res, err = call(payload(512))
    if not res then
        return fail(502, err)
    end
    done()
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
