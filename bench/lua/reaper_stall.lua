-- The handlers of bench/reaper-stall.sh (issue 12, item 4): one request leaves N dirty
-- semaphores behind, and the worker hands them back (the "reaper") when that request ends,
-- after its response was sent, while a client keeps pinging the same worker.
--
-- GET /storm?n=N&delay_ms=D
--   1. loads ffi_test (t/runtimes/ffi_test) with max_queue > N;
--   2. spawns N light threads, each calling rt:x("hold y"): the runtime keeps every task
--      unanswered until it is unloaded, so all N coroutines wait on their semaphores;
--   3. kills the N threads (their tasks stay linked to the request, waiters still "waiting");
--   4. spawns one more thread calling "hold y" (the tracker), then unloads the runtime: the
--      runtime answers what it held in arrival order, so when the tracker's call returns
--      every one of the N answers has arrived and posted a semaphore nobody waits on;
--   5. sends its whole response (ngx.eof), sleeps D ms (other requests are served), records
--      its end time in a shared dict and returns. Freeing the request marks the N semaphores
--      dirty and the reaper event hands them back, after the client has the response.
-- Answer: key=value words, see below.

local resty_ffi = require "resty_ffi"

local MAX_N = 500000
local MAX_DELAY_MS = 10000

local _M = {}


local function now_ms()
    ngx.update_time()
    return ngx.now() * 1000
end


local function held_call(rt)
    return rt:x("hold y")
end


function _M.storm()
    local n = tonumber(ngx.var.arg_n)
    local delay_ms = tonumber(ngx.var.arg_delay_ms or 500)
    if not n or n < 1 or n > MAX_N or n ~= math.floor(n)
       or not delay_ms or delay_ms < 0 or delay_ms > MAX_DELAY_MS
    then
        ngx.status = 400
        ngx.say("error=bad_args n=1..", MAX_N, " delay_ms=0..", MAX_DELAY_MS)
        return
    end

    local t0 = now_ms()
    local live_start = resty_ffi.live_tasks()
    local rt, err = ngx.load_ffi("ffi_test", nil, { max_queue = n + 16 })
    if not rt then
        ngx.status = 500
        ngx.say("error=load_ffi ", err)
        return
    end

    local threads = {}
    for i = 1, n do
        local th, serr = ngx.thread.spawn(held_call, rt)
        if not th then
            rt:__unload()
            ngx.status = 500
            ngx.say("error=spawn at ", i, ": ", serr)
            return
        end
        threads[i] = th
    end
    local t_spawned = now_ms()
    local live_parked = resty_ffi.live_tasks() - live_start

    local killed = 0
    for i = 1, n do
        if ngx.thread.kill(threads[i]) then
            killed = killed + 1
        end
        threads[i] = nil
    end
    threads = nil
    local t_killed = now_ms()

    local tracker = ngx.thread.spawn(held_call, rt)
    rt:__unload()
    local ok, call_ok, answer = ngx.thread.wait(tracker)
    local t_answered = now_ms()
    -- The N killed calls: answered (semaphores posted), still linked to this request.
    local live_before_end = resty_ffi.live_tasks() - live_start

    ngx.say("n=", n,
            " killed=", killed,
            " parked=", live_parked,
            " tracker=", (ok and call_ok and answer == "y") and "ok" or "failed",
            " live_before_end=", live_before_end,
            " spawn_ms=", string.format("%.0f", t_spawned - t0),
            " kill_ms=", string.format("%.0f", t_killed - t_spawned),
            " answer_ms=", string.format("%.0f", t_answered - t_killed))
    ngx.eof()

    ngx.sleep(delay_ms / 1000)
    ngx.shared.reaper_stall:set("end_ms", now_ms())
    -- Returning ends the request: its pool cleanup finds the N tasks with their answers
    -- posted and never consumed, frees them and hands their semaphores to the reaper.
end


-- GET /live -> live tasks, then the server's clock (ms since the epoch)
function _M.live()
    ngx.say(resty_ffi.live_tasks(), " ", string.format("%.3f", now_ms()))
end


-- GET /end -> the storm request's end time (ms since the epoch), or "none"
function _M.end_time()
    local v = ngx.shared.reaper_stall:get("end_ms")
    ngx.say(v and string.format("%.3f", v) or "none")
end


return _M
