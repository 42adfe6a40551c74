# vim:set ft= ts=4 sw=4 et fdm=marker:
# Runtimes on the Rust SDK (runtimes/rust/sdk): echo, typed cfg, panics, dropped tasks, tokio.

use lib '.';
use t::TestFFI 'no_plan';

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
