# vim:set ft= ts=4 sw=4 et fdm=marker:
# runtime:anyname(req): results, runtime errors, any method name, every place a call may yield.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: any method name; runtime rc != 0 gives false, rc, rsp
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            ngx.say(rt:echo("echo a"))
            ngx.say(rt:whatever_name("echo b"))
            ngx.say(rt:call("error 7 went wrong"))
            ngx.say(rt:call("error -1 negative"))
            ngx.say(rt:call("bogus"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
truea
trueb
false7went wrong
false-1negative
false22unknown command
live: 0



=== TEST 2: NULL response is nil; a C-string response (rsp_len 0) is read up to its NUL
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local ok, res = rt:call("null")
            ngx.say(ok, " ", type(res))
            ok, res = rt:call("cstr text")
            ngx.say(ok, " ", res, " ", #res)
            ok, res = rt:call("echo ")
            ngx.say(ok, " [", res, "]")
        }
    }
--- request
GET /t
--- response_body
true nil
true text 4
true []



=== TEST 3: a request that is not a string raises, with nothing queued
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            for _, req in ipairs({ "nil", 42, {}, true }) do
                if req == "nil" then req = nil end
                ngx.say(select(2, pcall(rt.call, rt, req)))
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
bad argument #1 to runtime call (string expected, got nil)
bad argument #1 to runtime call (string expected, got number)
bad argument #1 to runtime call (string expected, got table)
bad argument #1 to runtime call (string expected, got boolean)
live: 0



=== TEST 4: calls from rewrite, access and content phases
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.ctx.r = select(2, ngx.load_ffi("ffi_test"):call("echo rewrite"))
        }
        access_by_lua_block {
            ngx.ctx.a = select(2, ngx.load_ffi("ffi_test"):call("echo access"))
        }
        content_by_lua_block {
            ngx.say(ngx.ctx.r, " ", ngx.ctx.a, " ",
                    select(2, ngx.load_ffi("ffi_test"):call("echo content")))
        }
    }
--- request
GET /t
--- response_body
rewrite access content



=== TEST 5: calls from ngx.timer.at callbacks
--- config
    location = /t {
        content_by_lua_block {
            local results = {}
            local function job(premature, i)
                local rt = ngx.load_ffi("ffi_test")
                local ok, res = rt:call("sleep 10 timer" .. i)
                results[#results + 1] = res
            end
            for i = 1, 3 do
                assert(ngx.timer.at(0, job, i))
            end
            for _ = 1, 100 do
                if #results == 3 then break end
                ngx.sleep(0.01)
            end
            table.sort(results)
            ngx.say(table.concat(results, " "))
            ngx.sleep(0.01)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
timer1 timer2 timer3
live: 0



=== TEST 6: many light threads in flight at once, each gets its own answer
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local threads = {}
            for i = 1, 200 do
                threads[i] = ngx.thread.spawn(function()
                    return rt:call("sleep " .. (i % 7) .. " t" .. i)
                end)
            end
            local good = 0
            for i = 1, 200 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and res == "t" .. i then good = good + 1 end
            end
            ngx.say("good: ", good)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
good: 200
live: 0



=== TEST 7: the worker serves other requests while a call is in flight
--- config
    location = /fast {
        return 200 "fast\n";
    }
    location = /t {
        content_by_lua_block {
            -- "hold" is answered only when the runtime is unloaded: no timing involved.
            local rt = ngx.load_ffi("ffi_test", "held")
            local slow = ngx.thread.spawn(function() return rt:call("hold slow") end)
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", ngx.var.server_port))
            sock:send("GET /fast HTTP/1.0\r\nHost: localhost\r\n\r\n")
            local resp = sock:receive("*a")
            ngx.say("other request served: ", resp:find("fast", 1, true) ~= nil,
                    ", call still in flight: ", coroutine.status(slow) ~= "dead")
            rt:__unload()
            local _, ok, res = ngx.thread.wait(slow)
            ngx.say(ok, " ", res)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
other request served: true, call still in flight: true
true slow
live: 0



=== TEST 8: a runtime with several poll threads
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "threads=4")
            local threads = {}
            for i = 1, 100 do
                threads[i] = ngx.thread.spawn(function() return rt:call("echo " .. i) end)
            end
            local sum = 0
            for i = 1, 100 do
                local _, ok, res = ngx.thread.wait(threads[i])
                sum = sum + tonumber(res)
            end
            ngx.say(sum)
        }
    }
--- request
GET /t
--- response_body
5050
