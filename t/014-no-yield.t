# vim:set ft= ts=4 sw=4 et fdm=marker:
# Calls from Lua code that cannot yield (C-call boundaries inside a yieldable phase):
# a clear error with nothing queued, and the worker serves on unharmed.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: a call inside a string.gsub callback, then 1000 normal calls
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_test"))
            local out
            string.gsub("a", "a", function()
                local ok, err = rt:echo("echo x")
                out = tostring(ok) .. " " .. tostring(err)
            end)
            ngx.say(out)
            for i = 1, 1000 do
                local ok, res = rt:echo("echo " .. i)
                if not ok or res ~= tostring(i) then
                    ngx.say("bad answer ", i, ": ", tostring(ok), " ", tostring(res))
                    return
                end
            end
            ngx.say("1000 ok, live tasks ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
false cannot yield here: a runtime call cannot be made inside a C function (a string.gsub or table.sort callback, a metamethod called by a C function, the top level of a required module)
1000 ok, live tasks 0



=== TEST 2: a call inside a table.sort comparator, then 1000 normal calls
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_test"))
            local out
            table.sort({ 3, 1, 2 }, function(a, b)
                if not out then
                    local ok, err = rt:echo("echo x")
                    out = tostring(ok) .. " " .. tostring(err)
                end
                return a < b
            end)
            ngx.say(out)
            for i = 1, 1000 do
                local ok, res = rt:echo("echo " .. i)
                if not ok or res ~= tostring(i) then
                    ngx.say("bad answer ", i, ": ", tostring(ok), " ", tostring(res))
                    return
                end
            end
            ngx.say("1000 ok, live tasks ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
false cannot yield here: a runtime call cannot be made inside a C function (a string.gsub or table.sort callback, a metamethod called by a C function, the top level of a required module)
1000 ok, live tasks 0



=== TEST 3: metamethods: __tostring called by string.format (a C function) cannot yield; __tostring called by tostring and __index called by the VM can
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_test"))
            local obj = setmetatable({}, {
                __tostring = function()
                    local ok, err = rt:echo("echo from tostring")
                    return tostring(ok) .. " " .. tostring(err)
                end,
                __index = function(_, k)
                    local ok, res = rt:echo("echo " .. k)
                    return tostring(ok) .. " " .. tostring(res)
                end,
            })
            ngx.say(string.format("%s", obj))
            -- LuaJIT's tostring and the VM call these without a C frame between: yieldable.
            ngx.say(tostring(obj))
            ngx.say(obj.field)
            for i = 1, 1000 do
                local ok, res = rt:echo("echo " .. i)
                if not ok or res ~= tostring(i) then
                    ngx.say("bad answer ", i, ": ", tostring(ok), " ", tostring(res))
                    return
                end
            end
            ngx.say("1000 ok, live tasks ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
false cannot yield here: a runtime call cannot be made inside a C function (a string.gsub or table.sort callback, a metamethod called by a C function, the top level of a required module)
true from tostring
true field
1000 ok, live tasks 0



=== TEST 4: a call at the top level of a required module, then calls from many requests
--- config
    location = /t {
        content_by_lua_block {
            local dir = "/tmp/resty_ffi_t014_" .. ngx.worker.pid()
            os.execute("mkdir -p " .. dir)
            local f = assert(io.open(dir .. "/calls_at_load.lua", "w"))
            f:write([[
                local rt = assert(ngx.load_ffi("ffi_test"))
                local ok, err = rt:echo("echo at load")
                return tostring(ok) .. " " .. tostring(err)
            ]])
            f:close()
            package.path = dir .. "/?.lua;" .. package.path
            package.loaded.calls_at_load = nil
            ngx.say(require("calls_at_load"))
            os.remove(dir .. "/calls_at_load.lua")
            os.remove(dir)
            local rt = assert(ngx.load_ffi("ffi_test"))
            local threads = {}
            for t = 1, 10 do
                threads[t] = ngx.thread.spawn(function()
                    for i = 1, 100 do
                        local ok, res = rt:echo("echo " .. t .. "." .. i)
                        if not ok or res ~= t .. "." .. i then
                            return "bad answer " .. tostring(res)
                        end
                    end
                    return "ok"
                end)
            end
            for t = 1, 10 do
                local _, res = ngx.thread.wait(threads[t])
                if res ~= "ok" then ngx.say(res) end
            end
            ngx.say("1000 ok, live tasks ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
false cannot yield here: a runtime call cannot be made inside a C function (a string.gsub or table.sort callback, a metamethod called by a C function, the top level of a required module)
1000 ok, live tasks 0



=== TEST 5: the same in a timer and in a light thread
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_test"))
            local function try()
                local out
                string.gsub("a", "a", function()
                    local ok, err = rt:echo("echo x")
                    out = tostring(ok) .. " " .. tostring(err):sub(1, 17)
                end)
                local ok, res = rt:echo("echo after")
                return out .. " / " .. tostring(ok) .. " " .. tostring(res)
            end
            local sema = require("ngx.semaphore").new()
            local from_timer
            ngx.timer.at(0, function()
                from_timer = try()
                sema:post()
            end)
            local th = ngx.thread.spawn(try)
            local _, from_thread = ngx.thread.wait(th)
            sema:wait(5)
            ngx.say("timer: ", from_timer)
            ngx.say("thread: ", from_thread)
            ngx.say("live tasks ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
timer: false cannot yield here / true after
thread: false cannot yield here / true after
live tasks 0



=== TEST 6: a __tostring for threads (debug.setmetatable) does not fool the check
--- config
    location = /t {
        content_by_lua_block {
            local old = debug.getmetatable(coroutine.running())
            debug.setmetatable(coroutine.running(), { __tostring = function() return "a thread" end })
            local rt = assert(ngx.load_ffi("ffi_test"))
            local ok, res = rt:echo("echo still yields")
            debug.setmetatable(coroutine.running(), old)
            ngx.say(tostring(ok), " ", res)
        }
    }
--- request
GET /t
--- response_body
true still yields
