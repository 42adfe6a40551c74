# vim:set ft= ts=4 sw=4 et fdm=marker:
# Deadlines and cancellation reach the runtime: the call's timeout is its deadline; when the
# caller gives up (timeout, client abort, ngx.exit, the end of a timer, a killed light
# thread, the worker's exit deadline) a runtime holding the task sees
# ngx_http_resty_ffi_task_cancelled() turn 1 and hears of it in cancel_poll, and a task still
# queued is never handed out.

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    init_worker_by_lua_block {
        require "resty_ffi"
        local helpers = require "test_helpers"
        -- Waits until the test runtime has seen cancellations: wait_cancel tasks that saw
        -- task_cancelled turn 1, and wait_announce tasks that cancel_poll announced.
        function wait_for_cancels(rt, noticed, announced)
            return helpers.wait_for_answer(rt, "cancels", "noticed=" .. noticed .. " announced=" .. announced)
        end
        abort_after = helpers.abort_after
    }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: the timeout is the runtime's deadline; a call without one has none
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = ngx.load_ffi("ffi_test")
            local _, left = rt:call("deadline", { timeout = 5000 })
            left = tonumber(left)
            ngx.say("5 s timeout: deadline in 4..5 s: ", left > 4000 and left <= 5000)
            _, left = rt:call("deadline")
            left = tonumber(left)
            ngx.say("default timeout: deadline in 59..60 s: ", left > 59000 and left <= 60000)
            resty_ffi.set_default_timeout(0)
            ngx.say("no timeout: ", select(2, rt:call("deadline")))
            ngx.say("timeout 0: ", select(2, rt:call("deadline", { timeout = 0 })))
            resty_ffi.set_default_timeout(60000)
        }
    }
--- request
GET /t
--- response_body
5 s timeout: deadline in 4..5 s: true
default timeout: deadline in 59..60 s: true
no timeout: none
timeout 0: none



=== TEST 2: a timeout: the runtime holding the task sees it cancelled and hears of it
--- config
    location = /t {
        content_by_lua_block {
            -- A runtime that looks at the flag ...
            local rt = ngx.load_ffi("ffi_test")
            local t0 = ngx.now()
            ngx.say(rt:call("wait_cancel 5000", { timeout = 50 }))
            ngx.say(wait_for_cancels(rt, 1, 0))
            -- ... and one that waits for announcements (a thread in cancel_poll).
            rt = ngx.load_ffi("ffi_test", "cancel_listener")
            ngx.say(rt:call("wait_announce 5000", { timeout = 50 }))
            ngx.say(wait_for_cancels(rt, 1, 1))
            ngx.update_time()
            ngx.say("well before the runtime's own 5 s: ", ngx.now() - t0 < 2)
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
falsetimeout
noticed=1 announced=0
falsetimeout
noticed=1 announced=1
well before the runtime's own 5 s: true
live: 0



=== TEST 3: a client abort (lua_check_client_abort on) cancels the call
--- config
    location = /wait {
        lua_check_client_abort on;
        content_by_lua_block {
            ngx.load_ffi("ffi_test", "cancel_listener"):call("wait_announce 5000")
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "cancel_listener")
            abort_after("/wait", 50)
            ngx.say(wait_for_cancels(rt, 0, 1))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
noticed=0 announced=1
live: 0
--- error_log
client prematurely closed connection
--- no_error_log
[alert]
[crit]



=== TEST 4: ngx.exit while a light thread waits for the runtime cancels its call
--- config
    location = /exit {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "cancel_listener")
            ngx.thread.spawn(function() rt:call("wait_announce 5000") end)
            ngx.sleep(0.02)
            ngx.exit(200)
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "cancel_listener")
            -- In a subrequest (ngx.exit kills its light threads) ...
            local res = ngx.location.capture("/exit")
            ngx.say("status ", res.status)
            ngx.say(wait_for_cancels(rt, 0, 1))
            -- ... and in a request of its own.
            abort_after("/exit", 200)
            ngx.say(wait_for_cancels(rt, 0, 2))
        }
    }
--- request
GET /t
--- response_body
status 200
noticed=0 announced=1
noticed=0 announced=2



=== TEST 5: a timer that ends (ngx.exit) while its light thread waits cancels the call
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "cancel_listener")
            ngx.timer.at(0, function()
                ngx.thread.spawn(function() rt:call("wait_announce 5000") end)
                ngx.sleep(0.02)
                ngx.exit(0)
            end)
            ngx.say(wait_for_cancels(rt, 0, 1))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
noticed=0 announced=1
live: 0



=== TEST 6: a call that timed out while still queued never reaches the runtime
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local _, before = rt:call("handled")
            -- The one poll thread is busy for 200 ms; the next call waits in the queue.
            local busy = ngx.thread.spawn(function() return rt:call("block 200 done") end)
            ngx.sleep(0.01)
            ngx.say(rt:call("echo never", { timeout = 20 }))
            ngx.say(select(2, ngx.thread.wait(busy)))
            local _, after = rt:call("handled")
            -- "block" and this "handled": the timed-out echo was answered by the queue.
            ngx.say("handed to the runtime meanwhile: ", after - before)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
falsetimeout
truedone
handed to the runtime meanwhile: 2
live: 0



=== TEST 7: a light thread killed while it waits: the runtime hears of it while the request goes on
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "cancel_listener")
            local th = ngx.thread.spawn(function() return rt:call("wait_announce 5000") end)
            ngx.sleep(0.02)
            ngx.say("killed: ", ngx.thread.kill(th))
            ngx.say(wait_for_cancels(rt, 0, 1))
            -- The semaphore is reused cleanly: later calls work as before.
            for i = 1, 100 do
                local ok, res = rt:call("echo " .. i)
                if res ~= tostring(i) then ngx.say("bad answer ", i) end
            end
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
killed: 1
noticed=0 announced=1
live: 0



=== TEST 8: the worker's exit deadline (worker_shutdown_timeout) cancels a waiting call: the runtime's mark outlives the worker
--- http_config eval
$::HttpConfig . q{
    init_by_lua_block {
        -- The inner nginx: one worker; its first timer waits on a call that only a
        -- cancellation ends, and the runtime marks the cancellation in a shared dict (the
        -- zone outlives the worker across a reload).
        package.loaded.inner_conf = [[
$TEST_NGINX_LOAD_MODULE_LINES
user root;
worker_processes 1;
worker_shutdown_timeout 1s;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict marks 1m;
    init_worker_by_lua_block {
        require "resty_ffi"
        if not ngx.shared.marks:add("started", true) then
            return
        end
        ngx.timer.at(0, function()
            local rt = ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_test.so")
            local ok, err = rt:call("wait_cancel_mark marks exit 30000")
            ngx.log(ngx.NOTICE, "timer call ended: ", tostring(ok), " ", tostring(err))
            -- Keeps the exiting worker alive until the runtime thread has marked (it
            -- polls task_cancelled every ms).
            for _ = 1, 500 do
                if ngx.shared.marks:get("exit") then break end
                ngx.sleep(0.01)
            end
            ngx.log(ngx.NOTICE, "the exiting worker sees the mark: ", tostring(ngx.shared.marks:get("exit")))
        end)
    }
    server {
        listen 127.0.0.1:PORT reuseport;
        location = /held {
            content_by_lua_block {
                -- Tasks the runtime was handed, without these "handled" calls themselves.
                local mine = ngx.shared.marks:incr("handled_calls", 1, 0)
                local rt = ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_test.so")
                ngx.print(tonumber(select(2, rt:call("handled"))) - mine)
            }
        }
        location = /mark {
            content_by_lua_block { ngx.print("exit=", tostring(ngx.shared.marks:get("exit"))) }
        }
    }
}
]]
    }
}
--- config
    location = /t {
        content_by_lua_block {
            local inner_nginx = require "inner_nginx"
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner-exit", package.loaded.inner_conf,
                                          20316, "$TEST_NGINX_BINARY")
            assert(inner:start())
            local function get(path)
                return inner_nginx.sh("curl -s -m 5 http://127.0.0.1:20316" .. path)
            end
            ngx.say("runtime holds the call: ", inner_nginx.wait_for(function()
                return get("/held") == "1"
            end))
            ngx.say("before the reload: ", get("/mark"))
            local old = inner:workers()
            inner:signal("HUP")
            ngx.say("old worker exited after reload: ", inner_nginx.wait_for(function()
                return not inner_nginx.alive(old[1])
            end, 100))
            ngx.say("the new worker reads: ", get("/mark"))
            ngx.say("nginx stopped after quit: ", inner:stop("QUIT"))
            local log = inner:error_log()
            ngx.say("exit notice: ", log:find("worker exiting, %d+ call%(s%) in flight end in 1000 ms") ~= nil)
            ngx.say("timer call ended: ", inner_nginx.count(log, "timer call ended: false worker exiting"))
            ngx.say("the exiting worker saw the mark: ", inner_nginx.count(log, "the exiting worker sees the mark: 1"))
            ngx.say("alerts, crashes: ", inner:alerts())
        }
    }
--- request
GET /t
--- response_body
runtime holds the call: true
before the reload: exit=nil
old worker exited after reload: true
the new worker reads: exit=1
nginx stopped after quit: true
exit notice: true
timer call ended: 1
the exiting worker saw the mark: 1
alerts, crashes: 0
--- timeout: 30
