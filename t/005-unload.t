# vim:set ft= ts=4 sw=4 et fdm=marker:
# runtime:__unload(): queued tasks answered first, then NULL; later calls fail clearly.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: a call after unload is refused; a new load gives a fresh runtime
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            ngx.say(rt:call("echo before"))
            ngx.say(rt:__unload())
            ngx.say(rt:call("echo after"))
            ngx.say(rt:__unload())
            local rt2 = ngx.load_ffi("ffi_test")
            ngx.say(rt2 ~= rt, " ", select(2, rt2:call("echo again")))
            ngx.say(select(2, rt2:call("inits")))
        }
    }
--- request
GET /t
--- response_body
truebefore
true
falseruntime unloaded
falseruntime unloaded
true again
2



=== TEST 2: unload with 1000 tasks queued: every one is answered, none lost
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local threads = {}
            -- The first call keeps the single poll thread busy, so the rest stay queued.
            threads[1] = ngx.thread.spawn(function() return rt:call("sleep 50 first") end)
            for i = 2, 1000 do
                threads[i] = ngx.thread.spawn(function() return rt:call("echo " .. i) end)
            end
            rt:__unload()
            local good = 0
            for i = 1, 1000 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and (res == tostring(i) or res == "first") then good = good + 1 end
            end
            ngx.say("answered: ", good)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
answered: 1000
live: 0



=== TEST 3: tasks a runtime took before the unload, answered after it got NULL, reach their callers
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local threads = {}
            for i = 1, 20 do
                threads[i] = ngx.thread.spawn(function() return rt:call("hold h" .. i) end)
            end
            ngx.sleep(0.05)
            rt:__unload()
            local good = 0
            for i = 1, 20 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and res == "h" .. i then good = good + 1 end
            end
            ngx.say("answered after unload: ", good)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
answered after unload: 20
live: 0
