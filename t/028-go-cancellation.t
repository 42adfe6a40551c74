# vim:set ft= ts=4 sw=4 et fdm=marker:
# Deadlines and cancellation in the Go SDK: a restyffi.ContextHandler's context carries the
# call's deadline and is cancelled when the Lua caller gives up (timeout, client abort,
# ngx.exit, the end of a timer, a killed light thread, the worker's exit deadline: TEST 8,
# an inner nginx through t/lib/exit_cancel.lua). libffi_go_fetch.so
# (runtimes/go/examples/fetch) makes its upstream request with that context: a caller's
# timeout closes the upstream connection.
# libffi_go_test.so (runtimes/go/test-runtimes/sdk): wait_ctx, wait_ctx_mark, ctx_deadline,
# ctx_cancels.

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    lua_shared_dict upstream 1m;
    init_worker_by_lua_block {
        require "resty_ffi"
        local helpers = require "test_helpers"
        -- Waits until the Go test runtime's contexts were done `done` times; returns what
        -- ctx_cancels says then ("done=N canceled=M").
        function wait_for_ctx(rt, done)
            local got
            for _ = 1, 400 do
                local _
                _, got = rt:call("ctx_cancels")
                if got:match("^done=(%d+)") == tostring(done) then
                    return got
                end
                ngx.sleep(0.005)
            end
            return got
        end
        abort_after = helpers.abort_after
    }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: Go fetch (net/http with the call's context): the caller's timeout closes the upstream request at once
--- config
    location = /slow {
        lua_check_client_abort on;
        content_by_lua_block {
            local dict = ngx.shared.upstream
            ngx.on_abort(function()
                ngx.update_time()
                dict:set("closed", ngx.now())
                ngx.exit(499)
            end)
            ngx.sleep(5)
            dict:set("finished", true)
            ngx.say("too late")
        }
    }
    location = /fast {
        content_by_lua_block { ngx.print("fast body") }
    }
    location = /t {
        content_by_lua_block {
            local base = "http://127.0.0.1:" .. ngx.var.server_port
            local rt = assert(ngx.load_ffi("ffi_go_fetch", '{"base":"' .. base .. '"}'))
            ngx.say(rt:get("/fast"))
            ngx.update_time()
            local t0 = ngx.now()
            local ok, err = rt:get("/slow", { timeout = 100 })
            -- The Lua timeout and the context's own deadline are the same instant: the
            -- caller gets "timeout", or, if the cancelled request's answer wins the race,
            -- false, -5 (RESTY_FFI_RC_CANCELLED).
            ngx.say("slow: ", ok, ", gave up: ", err == "timeout" or err == -5)
            local dict = ngx.shared.upstream
            for _ = 1, 300 do
                if dict:get("closed") then break end
                ngx.sleep(0.005)
            end
            local closed = dict:get("closed")
            ngx.say("the upstream saw its client go: ", closed ~= nil)
            ngx.say("within 1 s of the call, not after the upstream's 5 s: ", closed ~= nil and closed - t0 < 1)
            ngx.say("the upstream finished: ", dict:get("finished") == true)
            if closed then
                ngx.log(ngx.NOTICE, "go fetch: upstream connection closed ",
                        math.floor((closed - t0) * 1000 - 100), " ms after the 100 ms timeout")
            end
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
truefast body
slow: false, gave up: true
the upstream saw its client go: true
within 1 s of the call, not after the upstream's 5 s: true
the upstream finished: false
live: 0
--- error_log eval
[
qr/\[resty_ffi\] fetch: the caller gave up \(context (deadline exceeded|canceled)\), request cancelled/,
qr/go fetch: upstream connection closed -?\d+ ms after the 100 ms timeout/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 2: the context's deadline is the call's timeout; a call without one has none
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            local _, left = rt:call("ctx_deadline", { timeout = 5000 })
            left = tonumber(left)
            ngx.say("5 s timeout: deadline in 4..5 s: ", left > 4000 and left <= 5000)
            _, left = rt:call("ctx_deadline")
            left = tonumber(left)
            ngx.say("default timeout: deadline in 59..60 s: ", left > 59000 and left <= 60000)
            resty_ffi.set_default_timeout(0)
            ngx.say("no timeout: ", select(2, rt:call("ctx_deadline")))
            resty_ffi.set_default_timeout(60000)
            ngx.say("not cancelled: ", select(2, rt:call("wait_ctx 10", { timeout = 5000 })))
            ngx.say(select(2, rt:call("ctx_cancels")))
        }
    }
--- request
GET /t
--- response_body
5 s timeout: deadline in 4..5 s: true
default timeout: deadline in 59..60 s: true
no timeout: none
not cancelled: not cancelled
done=0 canceled=0



=== TEST 3: a timeout: the handler's context is done; how long after the deadline is logged
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            ngx.update_time()
            local t0 = ngx.now()
            ngx.say(rt:call("wait_ctx 5000", { timeout = 50 }))
            ngx.say((wait_for_ctx(rt, 1):gsub(" canceled=%d+", "")))
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
done=1
well before the runtime's own 5 s: true
live: 0
--- error_log eval
qr/\[resty_ffi\] wait_ctx: context done \(context (deadline exceeded|canceled)\) -?\d+ us after the deadline/



=== TEST 4: a client abort (lua_check_client_abort on) cancels the handler's context
--- config
    location = /wait {
        lua_check_client_abort on;
        content_by_lua_block {
            ngx.load_ffi("ffi_go_test"):call("wait_ctx 5000")
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            abort_after("/wait", 50)
            ngx.say(wait_for_ctx(rt, 1))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
done=1 canceled=1
live: 0
--- error_log eval
[
"client prematurely closed connection",
qr/\[resty_ffi\] wait_ctx: context done \(context canceled\) -?\d+ us after the deadline/,
]
--- no_error_log
[alert]
[crit]



=== TEST 5: ngx.exit while a light thread waits for the Go runtime cancels the handler's context
--- config
    location = /exit {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_go_test")
            ngx.thread.spawn(function() rt:call("wait_ctx 5000") end)
            ngx.sleep(0.02)
            ngx.exit(200)
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            -- In a subrequest (ngx.exit kills its light threads) ...
            local res = ngx.location.capture("/exit")
            ngx.say("status ", res.status)
            ngx.say(wait_for_ctx(rt, 1))
            -- ... and in a request of its own.
            abort_after("/exit", 200)
            ngx.say(wait_for_ctx(rt, 2))
        }
    }
--- request
GET /t
--- response_body
status 200
done=1 canceled=1
done=2 canceled=2



=== TEST 5a: a timer that ends (ngx.exit) while its light thread waits cancels the handler's context
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            ngx.timer.at(0, function()
                ngx.thread.spawn(function() rt:call("wait_ctx 5000") end)
                ngx.sleep(0.02)
                ngx.exit(0)
            end)
            ngx.say(wait_for_ctx(rt, 1))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
done=1 canceled=1
live: 0



=== TEST 6: a light thread killed while it waits: the handler's context is cancelled while the request goes on
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            local th = ngx.thread.spawn(function() return rt:call("wait_ctx 5000") end)
            ngx.sleep(0.02)
            ngx.say("killed: ", ngx.thread.kill(th))
            ngx.say(wait_for_ctx(rt, 1))
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
done=1 canceled=1
live: 0



=== TEST 7: 200 calls in flight, half of them given up on: only those contexts are cancelled; unload then reload
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            local threads = {}
            for i = 1, 200 do
                local timeout = i % 2 == 0 and 30 or 5000
                threads[i] = ngx.thread.spawn(function()
                    return rt:call("wait_ctx 300", { timeout = timeout })
                end)
            end
            local timeouts, waited = 0, 0
            for i = 1, 200 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if i % 2 == 0 and not ok and res == "timeout" then timeouts = timeouts + 1 end
                if i % 2 == 1 and ok and res == "not cancelled" then waited = waited + 1 end
            end
            ngx.say("timed out: ", timeouts, ", waited their 300 ms: ", waited)
            ngx.say((wait_for_ctx(rt, 100):gsub(" canceled=%d+", "")))
            ngx.say("unload: ", rt:__unload())
            rt = assert(ngx.load_ffi("ffi_go_test"))
            ngx.say(rt:call("wait_ctx 5000", { timeout = 30 }))
            ngx.say((wait_for_ctx(rt, 101):gsub(" canceled=%d+", "")))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
timed out: 100, waited their 300 ms: 100
done=100
unload: true
falsetimeout
done=101
live: 0



=== TEST 8: the worker's exit deadline (reload, worker_shutdown_timeout 1s) cancels the handler's context; the mark it leaves in a shared dict outlives the worker; a line the handler logged just before the worker exits is written (exit_process drains the runtime log queue)
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
--- config
    location = /t {
        content_by_lua_block {
            -- t/lib/exit_cancel.lua: an inner nginx reloaded while a timer's call waits in
            -- wait_ctx_mark; how long after the exit deadline ctx.Done() fired is logged.
            local lines = require("exit_cancel").run({
                name = "go", port = 20330, dir = ngx.config.prefix() .. "html/inner-exit",
                binary = "$TEST_NGINX_BINARY", modules = "$TEST_NGINX_LOAD_MODULE_LINES",
                lua_dir = "$TEST_NGINX_LUA_DIR",
                calls = {
                    { key = "ctx", lib = "$TEST_NGINX_LIB_DIR/libffi_go_test.so",
                      req = "wait_ctx_mark marks ctx 30000",
                      logged = "%[resty_ffi%] wait_ctx_mark: context done %(context canceled%), marking ctx" },
                },
            })
            for _, line in ipairs(lines) do ngx.say(line) end
        }
    }
--- request
GET /t
--- response_body
the runtime holds the calls: true
marks before the reload: ctx nil nil; 
old worker exited after the reload: true
the new worker reads ctx: marked
nginx stopped after quit: true
exit notice: true
ctx: timer call ended: 1, the exiting worker saw the mark: 1
ctx: the runtime's line in the log: 1
old worker exited with code 0: 1
alerts, errors, crashes: 0
--- error_log eval
qr/worker exit: go ctx: noticed -?\d+\.\d+ ms after the Lua call ended/
--- timeout: 30
