# vim:set ft= ts=4 sw=4 et fdm=marker:
# Runtimes on the Rust SDK (runtimes/rust/sdk): echo, typed cfg, panics, dropped tasks, tokio;
# deadlines and cancellation (CallInfo::deadline / is_cancelled, tokio futures dropped);
# answers written into a Body (serve_into, Task::respond_body).

use lib '.';
use t::TestFFI 'no_plan';

our $CancelConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    init_worker_by_lua_block {
        require "resty_ffi"
        local helpers = require "test_helpers"
        -- Waits until the SDK test runtime says `want` to "cancels"; returns its last say.
        function wait_for_cancels(rt, want)
            return helpers.wait_for_answer(rt, "cancels", want)
        end
        abort_after = helpers.abort_after
    }
_EOC_

# Lua for the Body tests: what the test runtime's body commands answer, and a one-line
# verdict on an answer.
our $BodyConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block {
        require "resty_ffi"
        -- `bytes <n>`: byte k is k % 251.
        function pattern(n)
            local t = {}
            for k = 0, 250 do t[#t + 1] = string.char(k) end
            local block = table.concat(t)
            return string.rep(block, math.floor(n / 251)) .. block:sub(1, n % 251)
        end
        -- `lines <n>`: "0000000\n", "0000001\n", ...
        function lines(n)
            local t = {}
            for i = 0, n - 1 do t[#t + 1] = string.format("%07d\n", i) end
            return table.concat(t)
        end
        -- "true <length> same" when the answer is `want` byte for byte (its md5 too);
        -- "false <rc> <message>" for an error.
        function verdict(want, ok, res, msg)
            if not ok then
                return table.concat({ "false", tostring(res), tostring(msg) }, " ")
            end
            local same = res == want and ngx.md5(res) == ngx.md5(want)
            return table.concat({ "true", type(res), #res, same and "same" or "differs" }, " ")
        end
    }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: SDK echo: text, binary and empty payloads, cfg as a prefix
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_echo")
            ngx.say(rt:echo("plain"))
            local bin = "\0\1\2\255\0"
            local ok, res = rt:echo(bin)
            ngx.say(ok, " ", res == bin, " ", #res)
            ok, res = rt:echo("")
            ngx.say(ok, " [", res, "]")
            ngx.say(select(2, ngx.load_ffi("ffi_echo", "> "):echo("prefixed")))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
trueplain
true true 5
true []
> prefixed
live: 0



=== TEST 2: bad cfg fails the load with the SDK's reason
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(select(2, ngx.load_ffi("ffi_sdk_test")))
            ngx.say(select(2, ngx.load_ffi("ffi_sdk_test", "{not json")))
            ngx.say(select(2, ngx.load_ffi("ffi_sdk_test", [[{"mode":"pool","color":1}]])))
            local rt = ngx.load_ffi("ffi_sdk_test", [[{"mode":"pool"}]])
            ngx.say(select(2, rt:call("echo fine")))
        }
    }
--- request
GET /t
--- response_body
libffi_init of libffi_sdk_test.so failed: rc=1: resty_ffi_sdk: init failed: cfg is required (JSON), got nil
libffi_init of libffi_sdk_test.so failed: rc=1: resty_ffi_sdk: init failed: bad cfg: key must be a string at line 1 column 2
libffi_init of libffi_sdk_test.so failed: rc=1: resty_ffi_sdk: init failed: bad cfg: unknown field `color`, expected `mode` or `threads` at line 1 column 22
fine
--- error_log
init failed: cfg is required
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 3: a panicking handler answers with an error, the runtime keeps serving
--- config
    location = /t {
        content_by_lua_block {
            for _, mode in ipairs({ "pool", "async" }) do
                local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"' .. mode .. '"}')
                ngx.say(mode, ": ", table.concat({ tostring(select(1, rt:call("panic boom"))),
                    tostring(select(2, rt:call("panic boom"))),
                    tostring(select(3, rt:call("panic boom"))) }, " "))
                ngx.say(mode, ": ", select(2, rt:call("echo still serving")))
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
pool: false -2 handler panicked: boom
pool: still serving
async: false -2 handler panicked: boom
async: still serving
live: 0
--- error_log
handler panicked: boom
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 4: a task dropped unanswered answers by itself
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"manual"}')
            ngx.say(rt:call("drop"))
            ngx.say(rt:call("echo next"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
false-3task dropped without an answer
truenext
live: 0
--- error_log
task dropped without an answer
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 5: errors from handlers: false, rc, message
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"pool"}')
            ngx.say(rt:call("error 404 not found"))
            ngx.say(rt:call("error 0 zero becomes generic"))
        }
    }
--- request
GET /t
--- response_body
false404not found
false-1zero becomes generic



=== TEST 6: tokio: 500 calls in flight at once from 10 requests, each its own answer
--- config
    location = /many {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"async"}')
            local threads = {}
            for i = 1, 50 do
                threads[i] = ngx.thread.spawn(function()
                    return rt:call("sleep 100 " .. ngx.var.arg_r .. "-" .. i)
                end)
            end
            local good = 0
            for i = 1, 50 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and res == ngx.var.arg_r .. "-" .. i then good = good + 1 end
            end
            ngx.print(good)
        }
    }
    location = /t {
        content_by_lua_block {
            local reqs = {}
            for r = 1, 10 do reqs[r] = { "/many", { args = { r = r } } } end
            local total = 0
            for _, res in ipairs({ ngx.location.capture_multi(reqs) }) do
                total = total + tonumber(res.body)
            end
            ngx.say("answered: ", total)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
answered: 500
live: 0



=== TEST 7: tokio: a call that is only answered after the unload still reaches its caller
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"async"}')
            local th = ngx.thread.spawn(function() return rt:call("sleep 200 late but answered") end)
            ngx.sleep(0.05)
            rt:__unload()
            ngx.say(select(2, ngx.thread.wait(th)))
            ngx.say(rt:call("echo after"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
truelate but answered
falseruntime unloaded
live: 0



=== TEST 8: CallInfo::deadline is the call's timeout, in the thread pool and on tokio; none without one
--- http_config eval: $::CancelConfig
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            for _, mode in ipairs({ "pool", "async" }) do
                local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"' .. mode .. '"}')
                local _, left = rt:call("deadline", { timeout = 5000 })
                left = tonumber(left)
                ngx.say(mode, ": deadline in 4..5 s: ", left > 4000 and left <= 5000)
                resty_ffi.set_default_timeout(0)
                ngx.say(mode, ": no timeout: ", select(2, rt:call("deadline")))
                resty_ffi.set_default_timeout(60000)
                ngx.say(mode, ": ", select(2, rt:call("wait_cancel 10", { timeout = 5000 })))
            end
        }
    }
--- request
GET /t
--- response_body
pool: deadline in 4..5 s: true
pool: no timeout: none
pool: not cancelled
async: deadline in 4..5 s: true
async: no timeout: none
async: not cancelled
--- no_error_log
[error]
[alert]
[crit]



=== TEST 9: a timeout: a pool handler sees is_cancelled(), a tokio handler's future is dropped
--- http_config eval: $::CancelConfig
--- config
    location = /t {
        content_by_lua_block {
            local pool = ngx.load_ffi("ffi_sdk_test", '{"mode":"pool"}')
            local async = ngx.load_ffi("ffi_sdk_test", '{"mode":"async"}')
            ngx.update_time()
            local t0 = ngx.now()
            ngx.say(pool:call("wait_cancel 5000", { timeout = 50 }))
            ngx.say(wait_for_cancels(pool, "noticed=1 dropped=0"))
            ngx.say(async:call("wait_cancel 5000", { timeout = 50 }))
            ngx.say(wait_for_cancels(async, "noticed=1 dropped=1"))
            ngx.update_time()
            ngx.say("well before the handlers' own 5 s: ", ngx.now() - t0 < 2)
            -- Both keep serving.
            ngx.say(select(2, pool:call("echo pool")), " ", select(2, async:call("echo async")))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
falsetimeout
noticed=1 dropped=0
falsetimeout
noticed=1 dropped=1
well before the handlers' own 5 s: true
pool async
live: 0
--- error_log eval
qr/\[resty_ffi\] ffi_sdk_test: wait_cancel future dropped \d+ us (after|before) the deadline/
--- no_error_log
[error]
[alert]
[crit]



=== TEST 10: tokio futures are dropped on a client abort, ngx.exit and a killed light thread; the pool sees a killed thread
--- http_config eval: $::CancelConfig
--- config
    location = /wait {
        lua_check_client_abort on;
        content_by_lua_block {
            ngx.load_ffi("ffi_sdk_test", '{"mode":"async"}'):call("wait_cancel 5000")
        }
    }
    location = /exit {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"async"}')
            ngx.thread.spawn(function() rt:call("wait_cancel 5000") end)
            ngx.sleep(0.02)
            ngx.exit(200)
        }
    }
    location = /t {
        content_by_lua_block {
            local async = ngx.load_ffi("ffi_sdk_test", '{"mode":"async"}')
            local pool = ngx.load_ffi("ffi_sdk_test", '{"mode":"pool","threads":2}')
            abort_after("/wait", 50)
            ngx.say("client abort: ", wait_for_cancels(async, "noticed=0 dropped=1"))
            ngx.say("status ", ngx.location.capture("/exit").status)
            ngx.say("ngx.exit: ", wait_for_cancels(async, "noticed=0 dropped=2"))
            local th = ngx.thread.spawn(function() return async:call("wait_cancel 5000") end)
            ngx.sleep(0.02)
            ngx.thread.kill(th)
            ngx.say("killed thread: ", wait_for_cancels(async, "noticed=0 dropped=3"))
            th = ngx.thread.spawn(function() return pool:call("wait_cancel 5000") end)
            ngx.sleep(0.02)
            ngx.thread.kill(th)
            ngx.say("killed thread, pool: ", wait_for_cancels(pool, "noticed=1 dropped=3"))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
client abort: noticed=0 dropped=1
status 200
ngx.exit: noticed=0 dropped=2
killed thread: noticed=0 dropped=3
killed thread, pool: noticed=1 dropped=3
live: 0
--- error_log
client prematurely closed connection
--- no_error_log
[alert]
[crit]



=== TEST 10a: a timer that ends (ngx.exit) while its light thread waits: the tokio future is dropped, the pool sees is_cancelled()
--- http_config eval: $::CancelConfig
--- config
    location = /t {
        content_by_lua_block {
            local async = ngx.load_ffi("ffi_sdk_test", '{"mode":"async"}')
            local pool = ngx.load_ffi("ffi_sdk_test", '{"mode":"pool","threads":2}')
            for _, rt in ipairs({ async, pool }) do
                ngx.timer.at(0, function()
                    ngx.thread.spawn(function() rt:call("wait_cancel 5000") end)
                    ngx.sleep(0.02)
                    ngx.exit(0)
                end)
            end
            ngx.say("tokio: ", wait_for_cancels(async, "noticed=1 dropped=1"))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
tokio: noticed=1 dropped=1
live: 0



=== TEST 11: tokio: 200 calls in flight, half given up on: only those futures are dropped; unload, load again
--- http_config eval: $::CancelConfig
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"async"}')
            local threads = {}
            for i = 1, 200 do
                local timeout = i % 2 == 0 and 30 or 5000
                threads[i] = ngx.thread.spawn(function()
                    return rt:call("wait_cancel 300", { timeout = timeout })
                end)
            end
            local timeouts, waited = 0, 0
            for i = 1, 200 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if i % 2 == 0 and not ok and res == "timeout" then timeouts = timeouts + 1 end
                if i % 2 == 1 and ok and res == "not cancelled" then waited = waited + 1 end
            end
            ngx.say("timed out: ", timeouts, ", waited their 300 ms: ", waited)
            ngx.say(wait_for_cancels(rt, "noticed=0 dropped=100"))
            ngx.say("unload: ", rt:__unload())
            rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"async"}')
            ngx.say(rt:call("wait_cancel 5000", { timeout = 30 }))
            ngx.say(wait_for_cancels(rt, "noticed=0 dropped=101"))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
timed out: 100, waited their 300 ms: 100
noticed=0 dropped=100
unload: true
falsetimeout
noticed=0 dropped=101
live: 0
--- no_error_log
[error]
[alert]
[crit]



=== TEST 12: the worker's exit deadline (reload, worker_shutdown_timeout 1s): the tokio future is dropped (a Drop guard marks), the pool handler sees is_cancelled(); the marks in a shared dict outlive the worker
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
--- config
    location = /t {
        content_by_lua_block {
            -- t/lib/exit_cancel.lua: an inner nginx reloaded while two timers' calls wait in
            -- wait_cancel_mark; how long after the exit deadline each noticed is logged.
            local lib = "$TEST_NGINX_LIB_DIR/libffi_sdk_test.so"
            local lines = require("exit_cancel").run({
                name = "rust", port = 20331, dir = ngx.config.prefix() .. "html/inner-exit",
                binary = "$TEST_NGINX_BINARY", modules = "$TEST_NGINX_LOAD_MODULE_LINES",
                lua_dir = "$TEST_NGINX_LUA_DIR",
                calls = {
                    { key = "tokio", lib = lib, cfg = '{"mode":"async"}',
                      req = "wait_cancel_mark marks tokio 30000" },
                    { key = "pool", lib = lib, cfg = '{"mode":"pool"}',
                      req = "wait_cancel_mark marks pool 30000" },
                },
            })
            for _, line in ipairs(lines) do ngx.say(line) end
        }
    }
--- request
GET /t
--- response_body
the runtime holds the calls: true
marks before the reload: tokio nil nil; pool nil nil; 
old worker exited after the reload: true
the new worker reads tokio: marked
the new worker reads pool: marked
nginx stopped after quit: true
exit notice: true
tokio: timer call ended: 1, the exiting worker saw the mark: 1
pool: timer call ended: 1, the exiting worker saw the mark: 1
old worker exited with code 0: 1
alerts, errors, crashes: 0
--- error_log eval
[
qr/worker exit: rust tokio: noticed -?\d+\.\d+ ms after the Lua call ended/,
qr/worker exit: rust pool: noticed -?\d+\.\d+ ms after the Lua call ended/,
]
--- timeout: 30



=== TEST 13: serve_into: bodies written with extend_from_slice and write! (1 MiB each, byte for byte), empty and cleared bodies answer "", errors, NoMemory, a panic; 20 at once; a body for a caller that gave up
--- http_config eval: $::BodyConfig
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"into","threads":2}')
            local function say(name, req, want)
                ngx.say(name, ": ", verdict(want, rt:call(req)))
            end
            say("binary", "echo \0bin\255\0", "\0bin\255\0")
            say("extend_from_slice 1 MiB", "bytes 1048576", pattern(1048576))
            say("write! 1 MiB", "lines 131072", lines(131072))
            say("write! 3 lines", "lines 3", "0000000\n0000001\n0000002\n")
            say("empty", "empty", "")
            say("cleared", "cleared", "")
            say("extend_from_slice of nothing", "echo", "")
            say("the pool's reply, copied in", "sleep 0 copied", "copied")
            say("error", "error 404 not found", nil)
            say("error 0", "error 0 generic", nil)
            say("reserve(usize::MAX)", "reserve_max", nil)
            say("panic", "panic boom", nil)
            say("after the panic", "echo still serving", "still serving")
            local threads = {}
            for i = 1, 20 do
                threads[i] = ngx.thread.spawn(function()
                    if i % 2 == 0 then
                        return verdict(lines(i * 500), rt:call("lines " .. i * 500))
                    end
                    return verdict(pattern(i * 4000), rt:call("bytes " .. i * 4000))
                end)
            end
            local good = 0
            for i = 1, 20 do
                local _, v = ngx.thread.wait(threads[i])
                if v:find(" same$") then good = good + 1 end
            end
            ngx.say("20 at once, each its own: ", good)
            -- One thread: the next call waits for the late body, which the module frees unread.
            local one = ngx.load_ffi("ffi_sdk_test", '{"mode":"into"}')
            ngx.say("given up: ", verdict(nil, one:call("sleep 100 late", { timeout = 20 })))
            ngx.say("next: ", verdict("next", one:call("echo next")))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
binary: true string 6 same
extend_from_slice 1 MiB: true string 1048576 same
write! 1 MiB: true string 1048576 same
write! 3 lines: true string 24 same
empty: true string 0 same
cleared: true string 0 same
extend_from_slice of nothing: true string 0 same
the pool's reply, copied in: true string 6 same
error: false 404 not found
error 0: false -1 generic
reserve(usize::MAX): false -4 out of memory
panic: false -2 handler panicked: boom
after the panic: true string 13 same
20 at once, each its own: 20
given up: false timeout nil
next: true string 4 same
live: 0
--- error_log
handler panicked: boom
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 14: a runtime that polls by hand answers with Task::respond_body
--- http_config eval: $::BodyConfig
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"manual"}')
            local function say(name, req, want)
                ngx.say(name, ": ", verdict(want, rt:call(req)))
            end
            say("binary", "body echo \0bin\255\0", "\0bin\255\0")
            say("extend_from_slice 1 MiB", "body bytes 1048576", pattern(1048576))
            say("write! 1 MiB", "body lines 131072", lines(131072))
            say("empty", "body empty", "")
            say("cleared", "body cleared", "")
            say("error", "body error 7 went wrong", nil)
            say("reserve(usize::MAX)", "body reserve_max", nil)
            say("a Vec reply", "echo plain", "plain")
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
binary: true string 6 same
extend_from_slice 1 MiB: true string 1048576 same
write! 1 MiB: true string 1048576 same
empty: true string 0 same
cleared: true string 0 same
error: false 7 went wrong
reserve(usize::MAX): false -4 out of memory
a Vec reply: true string 5 same
live: 0
--- no_error_log
[error]
[alert]
[crit]
