# vim:set ft= ts=4 sw=4 et fdm=marker:
# ngx.load_ffi: finding the library, libffi_init, caching, and every way loading fails.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: load by absolute path and call
--- config
    location = /t {
        content_by_lua_block {
            local rt, err = ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_echo.so")
            if not rt then
                ngx.say("load failed: ", err)
                return
            end
            local ok, res = rt:echo("hello")
            ngx.say(ok, " ", res)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
true hello
live: 0



=== TEST 2: load by short name and by file name (LD_LIBRARY_PATH)
--- config
    location = /t {
        content_by_lua_block {
            for _, lib in ipairs({ "ffi_echo", "libffi_echo.so" }) do
                local rt, err = ngx.load_ffi(lib, "[" .. lib .. "] ")
                if not rt then
                    ngx.say("load failed: ", err)
                    return
                end
                ngx.say(select(2, rt:echo("hi")))
            end
        }
    }
--- request
GET /t
--- response_body
[ffi_echo] hi
[libffi_echo.so] hi



=== TEST 3: idempotent: one libffi_init per lib&cfg key, same object back
--- config
    location = /t {
        content_by_lua_block {
            local a = ngx.load_ffi("ffi_test", "threads=1")
            local b = ngx.load_ffi("ffi_test", "threads=1")
            local c = ngx.load_ffi("ffi_test", "threads=2")
            local d = ngx.load_ffi("ffi_test")
            ngx.say(a == b, " ", a == c, " ", c == d)
            ngx.say(select(2, a:call("inits")))
        }
    }
--- request
GET /t
--- response_body
true false false
3



=== TEST 4: a missing library is a clear error, and the next good load works
--- config
    location = /t {
        content_by_lua_block {
            local rt, err = ngx.load_ffi("no_such_runtime")
            ngx.say(rt, " ", err)
            rt, err = ngx.load_ffi("/nonexistent/libx.so")
            ngx.say(rt, " ", err)
            rt = ngx.load_ffi("ffi_echo")
            ngx.say(select(2, rt:echo("still fine")))
        }
    }
--- request
GET /t
--- response_body
nil failed to load runtime library libno_such_runtime.so: libno_such_runtime.so: cannot open shared object file: No such file or directory
nil failed to load runtime library /nonexistent/libx.so: /nonexistent/libx.so: cannot open shared object file: No such file or directory
still fine
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 5: a library without libffi_init is refused
--- config
    location = /t {
        content_by_lua_block {
            local rt, err = ngx.load_ffi("libm.so.6")
            ngx.say(rt, " ", err)
        }
    }
--- request
GET /t
--- response_body
nil runtime library libm.so.6 has no libffi_init symbol
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 6: libffi_init returning non-zero gives nil, err with the error it logged; nothing is cached
--- config
    location = /t {
        content_by_lua_block {
            for i = 1, 2 do
                local rt, err = ngx.load_ffi("ffi_test", "fail")
                ngx.say(rt, " ", err)
            end
            local rt = ngx.load_ffi("ffi_test")
            ngx.say(select(2, rt:call("inits")))
        }
    }
--- request
GET /t
--- response_body
nil libffi_init of libffi_test.so failed: rc=3: ffi_test: told to fail by its cfg
nil libffi_init of libffi_test.so failed: rc=3: ffi_test: told to fail by its cfg
3
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 7: lib, cfg and opts of the wrong type raise
--- config
    location = /t {
        content_by_lua_block {
            local function try(...)
                local ok, err = pcall(ngx.load_ffi, ...)
                -- (the error's "file:line: " prefix depends on the generated nginx.conf)
                ngx.say(ok and "no error" or (err:gsub("^.-:%d+: ", "")))
            end
            try(nil)
            try(42)
            try("")
            try("ffi_echo", {})
            try("ffi_echo", 1)
            try("ffi_echo", nil, "x")
            try("ffi_echo", nil, { max_queue = 0 })
            try("ffi_echo", nil, { max_queue = 1.5 })
            try("ffi_echo", nil, { timeout = -1 })
        }
    }
--- request
GET /t
--- response_body
bad argument #1 to 'load' (non-empty string expected, got nil)
bad argument #1 to 'load' (non-empty string expected, got number)
bad argument #1 to 'load' (non-empty string expected, got an empty string)
bad argument #2 to 'load' (string or nil expected, got table)
bad argument #2 to 'load' (string or nil expected, got number)
bad argument #3 to 'load' (table expected, got string)
bad argument #3 to 'load' (max_queue: positive integer expected, got 0)
bad argument #3 to 'load' (max_queue: positive integer expected, got 1.5)
bad argument #3 to 'load' (timeout: finite number of milliseconds >= 0 expected (0: none), got -1)



=== TEST 8: loading in init_by_lua is refused (runtimes belong to workers)
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_by_lua_block {
        local resty_ffi = require "resty_ffi"
        local rt, err = ngx.load_ffi("ffi_echo")
        package.loaded.init_result = tostring(rt) .. " " .. err
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(package.loaded.init_result)
        }
    }
--- request
GET /t
--- response_body
nil cannot load a runtime in init_by_lua*: runtimes belong to worker processes (use init_worker_by_lua* or later)



=== TEST 9: loading in init_worker_by_lua works; a call there is a clear error
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block {
        require "resty_ffi"
        local rt, err = ngx.load_ffi("ffi_echo")
        local ok, cerr = rt:echo("x")
        package.loaded.init_worker_result = tostring(ok) .. " " .. cerr
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(package.loaded.init_worker_result)
            local rt = ngx.load_ffi("ffi_echo")
            ngx.say(select(2, rt:echo("from content")))
        }
    }
--- request
GET /t
--- response_body
false API disabled in the context of init_worker (it cannot yield)
from content
