# vim:set ft= ts=4 sw=4 et fdm=marker:
# unpin = true: the library is closed (dlclose) on unload, but only once no thread of the
# runtime can run its code any more (the threads libffi_init started and those that called
# into the module have exited). A native runtime loaded, called and unloaded in a loop.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: a C runtime: 100 load/call/unload cycles with unpin, back to back; then the library is gone
--- config
    location = /t {
        content_by_lua_block {
            local lib = "$TEST_NGINX_LIB_DIR/libffi_c_test.so"
            local function mapped()
                local f = assert(io.open("/proc/self/maps"))
                local maps = f:read("*a")
                f:close()
                return maps:find("libffi_c_test.so", 1, true) ~= nil
            end
            for i = 1, 100 do
                local rt, err = ngx.load_ffi(lib, nil, { unpin = true })
                if not rt then
                    ngx.say("load ", i, " failed: ", err)
                    return
                end
                local ok, res = rt:call("echo " .. i)
                if not ok or res ~= tostring(i) then
                    ngx.say("bad answer ", i, ": ", tostring(ok), " ", tostring(res))
                    return
                end
                -- A task still in the runtime's hands when it unloads is answered after.
                ngx.thread.spawn(function() rt:call("hold h") end)
                ngx.sleep(0)
                assert(rt:__unload())
            end
            ngx.say("100 cycles ok")
            local gone = false
            for _ = 1, 300 do
                if not mapped() then gone = true break end
                ngx.sleep(0.01)
            end
            ngx.say("library unmapped: ", gone)
            ngx.say("live tasks: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
100 cycles ok
library unmapped: true
live tasks: 0
--- timeout: 20
--- no_error_log
[error]
[alert]
[crit]
[emerg]
exited on signal



=== TEST 2: a C runtime: each reload is a fresh copy of the library (its static state starts anew)
--- config
    location = /t {
        content_by_lua_block {
            local lib = "$TEST_NGINX_LIB_DIR/libffi_c_test.so"
            local function mapped()
                local f = assert(io.open("/proc/self/maps"))
                local maps = f:read("*a")
                f:close()
                return maps:find("libffi_c_test.so", 1, true) ~= nil
            end
            for i = 1, 5 do
                local rt = assert(ngx.load_ffi(lib, nil, { unpin = true }))
                local ok, inits = rt:call("inits")
                ngx.say("cycle ", i, ": libffi_init ran ", inits, " time(s) in this copy")
                assert(rt:__unload())
                for _ = 1, 300 do
                    if not mapped() then break end
                    ngx.sleep(0.01)
                end
            end
        }
    }
--- request
GET /t
--- response_body
cycle 1: libffi_init ran 1 time(s) in this copy
cycle 2: libffi_init ran 1 time(s) in this copy
cycle 3: libffi_init ran 1 time(s) in this copy
cycle 4: libffi_init ran 1 time(s) in this copy
cycle 5: libffi_init ran 1 time(s) in this copy
--- timeout: 20
--- no_error_log
[error]
[alert]
[crit]
[emerg]
exited on signal



=== TEST 3: a Rust runtime (several poll threads): 100 cycles with unpin; it stays mapped
Rust's std registers thread-local destructors on the thread that ran libffi_init (nginx's),
so glibc keeps such a library mapped: dlclose is safe, it just cannot unmap.
--- config
    location = /t {
        content_by_lua_block {
            local lib = "$TEST_NGINX_LIB_DIR/libffi_test.so"
            for i = 1, 100 do
                local rt = assert(ngx.load_ffi(lib, "threads=" .. (i % 3 + 1), { unpin = true }))
                local ok, res = rt:call("echo " .. i)
                if not ok or res ~= tostring(i) then
                    ngx.say("bad answer ", i, ": ", tostring(ok), " ", tostring(res))
                    return
                end
                ngx.thread.spawn(function() rt:call("hold h") end)
                ngx.sleep(0)
                assert(rt:__unload())
            end
            ngx.sleep(0.5)
            ngx.say("100 cycles ok, live tasks: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
100 cycles ok, live tasks: 0
--- timeout: 20
--- no_error_log
[error]
[alert]
[crit]
[emerg]
exited on signal



=== TEST 4: a C runtime holds a call in a thread of its own (one that has not called into the module yet) when it is unloaded: the library stays mapped until that call is answered
--- config
    location = /t {
        content_by_lua_block {
            local lib = "$TEST_NGINX_LIB_DIR/libffi_c_test.so"
            local function mapped()
                local f = assert(io.open("/proc/self/maps"))
                local maps = f:read("*a")
                f:close()
                return maps:find("libffi_c_test.so", 1, true) ~= nil
            end
            local rt = assert(ngx.load_ffi(lib, nil, { unpin = true }))
            local th = ngx.thread.spawn(function() return rt:call("later 500") end)
            ngx.sleep(0.05)
            assert(rt:__unload())
            -- The poll thread is gone at once; the task's own thread sleeps in the library.
            ngx.sleep(0.3)
            ngx.say("mapped while the call is held: ", mapped())
            ngx.say("answer: ", select(3, ngx.thread.wait(th)))
            local gone = false
            for _ = 1, 300 do
                if not mapped() then gone = true break end
                ngx.sleep(0.01)
            end
            ngx.say("library unmapped after: ", gone)
            ngx.say("live tasks: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
mapped while the call is held: true
answer: later
library unmapped after: true
live tasks: 0
--- timeout: 20
--- no_error_log
[error]
[alert]
[crit]
[emerg]
exited on signal



=== TEST 5: a C runtime's cancel_poll thread, started after libffi_init, lingers in the library after the unload: the library stays mapped until it exits
--- config
    location = /t {
        content_by_lua_block {
            local lib = "$TEST_NGINX_LIB_DIR/libffi_c_test.so"
            local function mapped()
                local f = assert(io.open("/proc/self/maps"))
                local maps = f:read("*a")
                f:close()
                return maps:find("libffi_c_test.so", 1, true) ~= nil
            end
            local rt = assert(ngx.load_ffi(lib, nil, { unpin = true }))
            ngx.say(rt:call("cancel_thread"))
            ngx.sleep(0.05)
            assert(rt:__unload())
            ngx.sleep(0.3)
            ngx.say("mapped while the thread lingers: ", mapped())
            local gone = false
            for _ = 1, 300 do
                if not mapped() then gone = true break end
                ngx.sleep(0.01)
            end
            ngx.say("library unmapped after: ", gone)
        }
    }
--- request
GET /t
--- response_body
truestarted
mapped while the thread lingers: true
library unmapped after: true
--- timeout: 20
--- no_error_log
[error]
[alert]
[crit]
[emerg]
exited on signal
