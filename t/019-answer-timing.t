# vim:set ft= ts=4 sw=4 et fdm=marker:
# Answers that come at every moment relative to the worker's wait: at once (read inside the
# call), during and just after its spin for them, late by the event loop, racing a timeout.
# Every answer reaches its own caller, nothing leaks, and the semaphores stay consistent.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: sequential calls answered after 0 to 200 us, each with its own answer
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local bad = 0
            for i = 1, 3000 do
                local us = (i * 37) % 200
                if i % 3 == 0 then us = 0 end
                local ok, res = rt:call("spin " .. us .. " " .. i)
                if not ok or res ~= tostring(i) then
                    bad = bad + 1
                end
            end
            ngx.say("bad: ", bad, ", live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
bad: 0, live: 0
--- timeout: 30



=== TEST 2: light threads with calls in flight together, then one at a time again
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "threads=2")
            local bad = 0
            local function run(tag, n)
                for i = 1, n do
                    local want = tag .. ":" .. i
                    local ok, res = rt:call("spin " .. ((i * 13) % 60) .. " " .. want)
                    if not ok or res ~= want then
                        bad = bad + 1
                    end
                end
            end
            local threads = {}
            for t = 1, 4 do
                threads[t] = ngx.thread.spawn(run, "t" .. t, 300)
            end
            run("main", 300)
            for t = 1, 4 do
                ngx.thread.wait(threads[t])
            end
            -- One call at a time again: answers read inside the call.
            run("after", 300)
            ngx.say("bad: ", bad, ", live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
bad: 0, live: 0
--- timeout: 30



=== TEST 3: answers racing a 1 ms timeout: every call ends with its answer or "timeout"
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local answered, timed_out, bad = 0, 0, 0
            for i = 1, 400 do
                local us = 700 + (i * 53) % 600
                local ok, res = rt:call("spin " .. us .. " " .. i, { timeout = 1 })
                if ok and res == tostring(i) then
                    answered = answered + 1
                elseif not ok and res == "timeout" then
                    timed_out = timed_out + 1
                else
                    bad = bad + 1
                end
            end
            -- Late answers come back and are freed; then fast calls work as before.
            ngx.sleep(0.05)
            for i = 1, 300 do
                local ok, res = rt:call("echo " .. i)
                if not ok or res ~= tostring(i) then
                    bad = bad + 1
                end
            end
            ngx.say("all ended: ", answered + timed_out == 400, ", bad: ", bad,
                    ", live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
all ended: true, bad: 0, live: 0
--- timeout: 30
