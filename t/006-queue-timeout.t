# vim:set ft= ts=4 sw=4 et fdm=marker:
# max_queue and the per-call timeout: errors at once, late answers freed.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: a full queue fails at once with "queue full"
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "q1", { max_queue = 1 })
            -- The poll thread takes the first task and sleeps; the second fills the queue.
            local t1 = ngx.thread.spawn(function() return rt:call("block 100 one") end)
            ngx.sleep(0.02)
            local t2 = ngx.thread.spawn(function() return rt:call("echo two") end)
            ngx.say(rt:call("echo three"))
            ngx.say(select(3, ngx.thread.wait(t1)), " ", select(3, ngx.thread.wait(t2)))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
falsequeue full
one two
live: 0



=== TEST 2: the per-call timeout fires; the late answer is freed
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty_ffi"
            local rt = ngx.load_ffi("ffi_test", "t", { timeout = 50 })
            ngx.say(rt:call("sleep 300 late"))
            ngx.say("live while late: ", resty_ffi.live_tasks())
            ngx.say(rt:call("echo in time"))
            for _ = 1, 200 do
                if resty_ffi.live_tasks() == 0 then break end
                ngx.sleep(0.01)
            end
            ngx.say("live after: ", resty_ffi.live_tasks())
        }
    }
--- request
GET /t
--- response_body
falsetimeout
live while late: 1
truein time
live after: 0



=== TEST 3: many timeouts at once, then every late answer freed
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty_ffi"
            local rt = ngx.load_ffi("ffi_test", "t", { timeout = 20 })
            local threads = {}
            for i = 1, 100 do
                threads[i] = ngx.thread.spawn(function() return rt:call("sleep 100 x") end)
            end
            local timeouts = 0
            for i = 1, 100 do
                local _, ok, err = ngx.thread.wait(threads[i])
                if not ok and err == "timeout" then timeouts = timeouts + 1 end
            end
            ngx.say("timeouts: ", timeouts)
            for _ = 1, 100 do
                if resty_ffi.live_tasks() == 0 then break end
                ngx.sleep(0.02)
            end
            ngx.say("live: ", resty_ffi.live_tasks())
        }
    }
--- request
GET /t
--- response_body
timeouts: 100
live: 0
