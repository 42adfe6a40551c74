# vim:set ft= ts=4 sw=4 et fdm=marker:
# The Lua API an OpenResty user expects: require "resty.ffi" (no patch of ngx), per-call
# options, a default timeout, one rule for options of a second load, and clear errors for
# the usual slips (a dot instead of a colon, a misspelt __unload).

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: require "resty.ffi" works on its own and patches nothing
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            ngx.say("ngx.load_ffi installed: ", ngx.load_ffi ~= nil)
            local rt = assert(resty_ffi.load("ffi_test"))
            ngx.say(rt:echo("echo hello"))
            ngx.say("load_ffi is load: ", resty_ffi.load_ffi == resty_ffi.load)
            ngx.say("the same module as resty_ffi: ", require("resty_ffi") == resty_ffi,
                    ", and now ngx.load_ffi: ", ngx.load_ffi == resty_ffi.load)
        }
    }
--- request
GET /t
--- response_body
ngx.load_ffi installed: false
truehello
load_ffi is load: true
the same module as resty_ffi: true, and now ngx.load_ffi: true



=== TEST 2: per-call timeouts, the default timeout and set_default_timeout
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = assert(resty_ffi.load("ffi_test"))
            ngx.say("per call: ", select(2, rt:call("sleep 300 x", { timeout = 20 })))
            resty_ffi.set_default_timeout(30)
            ngx.say("default 30 ms: ", select(2, rt:call("sleep 300 x")))
            ngx.say("per call beats the default: ", select(2, rt:call("sleep 60 answered", { timeout = 1000 })))
            local r2 = assert(resty_ffi.load("ffi_test", "with its own timeout", { timeout = 1000 }))
            ngx.say("load option beats the default: ", select(2, r2:call("sleep 60 answered")))
            resty_ffi.set_default_timeout(0)
            ngx.say("0: no timeout: ", select(2, rt:call("sleep 60 answered")))
            ngx.say(pcall(resty_ffi.set_default_timeout, -5))
            ngx.sleep(0.4)
            ngx.say("live tasks: ", resty_ffi.live_tasks())
        }
    }
--- request
GET /t
--- response_body
per call: timeout
default 30 ms: timeout
per call beats the default: answered
load option beats the default: answered
0: no timeout: answered
falsebad argument #1 to 'set_default_timeout' (timeout: finite number of milliseconds >= 0 expected (0: none), got -5)
live tasks: 0



=== TEST 3: a second load of the same lib and cfg: the same runtime, or an error if its options differ
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = assert(resty_ffi.load("ffi_test", nil, { timeout = 500 }))
            ngx.say("no options: same runtime: ", resty_ffi.load("ffi_test") == rt)
            ngx.say("same options: same runtime: ", resty_ffi.load("ffi_test", nil, { timeout = 500 }) == rt)
            ngx.say(resty_ffi.load("ffi_test", nil, { timeout = 600 }))
            ngx.say(resty_ffi.load("ffi_test", nil, { max_queue = 10, timeout = 500 }))
            assert(rt:__unload())
            local again = assert(resty_ffi.load("ffi_test", nil, { timeout = 600 }))
            ngx.say("after unload, new options apply: ", again ~= rt)
        }
    }
--- request
GET /t
--- response_body
no options: same runtime: true
same options: same runtime: true
nilruntime ffi_test is loaded already with other options (a runtime is loaded once per worker, lib and cfg): load it with the same options, or without any, or unload it first
nilruntime ffi_test is loaded already with other options (a runtime is loaded once per worker, lib and cfg): load it with the same options, or without any, or unload it first
after unload, new options apply: true



=== TEST 4: the usual slips raise clear errors: a dot for a colon, a misspelt __unload, bad options
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = assert(resty_ffi.load("ffi_test"))
            local function try(f, ...)
                local ok, err = pcall(f, ...)
                ngx.say(ok and "no error" or (tostring(err):gsub("^.-:%d+: ", "")))
            end
            try(function() return rt.call("echo x") end)
            try(function() return rt:__unlaod() end)
            try(function() return rt:call("echo x", "fast") end)
            try(function() return rt:call("echo x", { timeout = "soon" }) end)
            ngx.say("still callable: ", select(2, rt:call("echo x")))
            ngx.say("live tasks: ", resty_ffi.live_tasks())
        }
    }
--- request
GET /t
--- response_body
bad self: call runtime methods with a colon, rt:anyname(req)
no runtime method __unlaod (names starting with __ are reserved; __unload is the only one)
bad argument #2 to runtime call (table expected, got string)
bad argument #2 to runtime call (timeout: finite number of milliseconds >= 0 expected (0: none), got soon)
still callable: x
live tasks: 0



=== TEST 5: a false result tells its kind by type: a string is the module's, a number the runtime's rc
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = assert(resty_ffi.load("ffi_test", nil, { max_queue = 1 }))
            local ok, rc, rsp = rt:call("error 7 not found")
            ngx.say(type(rc), " ", rc, " ", rsp)
            local ok2, err = rt:call("sleep 10 x", { timeout = 1 })
            ngx.say(type(err), " ", err)
            ngx.sleep(0.1)
        }
    }
--- request
GET /t
--- response_body
number 7 not found
string timeout



=== TEST 6: set_library_path: bare names found in nginx-configured directories
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local dir = "/tmp/resty_ffi_t018_" .. ngx.worker.pid()
            os.execute("mkdir -p " .. dir .. " && cp $TEST_NGINX_LIB_DIR/libffi_test.so " .. dir .. "/libffi_elsewhere.so")
            ngx.say(resty_ffi.load("ffi_elsewhere"))
            resty_ffi.set_library_path("/nonexistent:" .. dir)
            local rt = assert(resty_ffi.load("ffi_elsewhere"))
            ngx.say(rt:call("echo found"))
            resty_ffi.set_library_path(nil)
            ngx.say(pcall(resty_ffi.set_library_path, 42))
            os.execute("rm -rf " .. dir)
        }
    }
--- request
GET /t
--- response_body
nilfailed to load runtime library libffi_elsewhere.so: libffi_elsewhere.so: cannot open shared object file: No such file or directory
truefound
falsebad argument #1 to 'set_library_path' (string, table or nil expected, got number)



=== TEST 7: a library that is found but cannot load: the module says what it found and why
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local lib = "$TEST_NGINX_LIB_DIR"
            local tag = ngx.worker.pid()
            os.execute("cp /bin/true " .. lib .. "/libffi_exe_" .. tag .. ".so")
            local f = assert(io.open(lib .. "/libffi_text_" .. tag .. ".so", "w"))
            f:write("not a library\n")
            f:close()
            local _, err = resty_ffi.load("ffi_exe_" .. tag)
            ngx.say(err:find("an executable, not a shared library (Go: build with -buildmode=c-shared)", 1, true) ~= nil)
            _, err = resty_ffi.load("ffi_text_" .. tag)
            ngx.say(err:find("libffi_text_" .. tag .. ".so: not an ELF shared library", 1, true) ~= nil)
            os.remove(lib .. "/libffi_exe_" .. tag .. ".so")
            os.remove(lib .. "/libffi_text_" .. tag .. ".so")
        }
    }
--- request
GET /t
--- response_body
true
true



=== TEST 8: lua_code_cache off: every request has its own Lua VM, and all share the worker's runtime
--- config
    location = /t {
        lua_code_cache off;
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = assert(resty_ffi.load("ffi_test", "shared"))
            local _, inits = rt:call("inits")
            local _, echo = rt:call("echo hi")
            ngx.say("inits ", inits, ", ", echo)
        }
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- response_body eval
["inits 1, hi\n", "inits 1, hi\n", "inits 1, hi\n", "inits 1, hi\n", "inits 1, hi\n"]
--- no_error_log
[error]
[crit]
[emerg]
exited on signal



=== TEST 9: ngx.load_ffi before require "resty_ffi" is Lua's own error (no hook can install a hint); the fix works
Only require "resty_ffi" installs ngx.load_ffi (lua-nginx-module has no hook that runs a
dynamic module's Lua when it creates a VM): the exact text a user searches for, with the
README's fix. init_worker_by_lua installs it for the worker's VM; a lua_code_cache off
request has a VM of its own, where the handler must require it.
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block { require "resty_ffi" }
--- config
    location = /cached {
        content_by_lua_block {
            local ok, res = ngx.load_ffi("ffi_test"):call("echo installed by init_worker")
            ngx.say(ok, " ", res)
        }
    }
    location = /nocache {
        lua_code_cache off;
        content_by_lua_block {
            local ok, err = pcall(function() return ngx.load_ffi("ffi_test") end)
            ngx.say(ok, " ", (err:gsub("^.-:%d+: ", "")))
            require "resty_ffi"
            ngx.say(select(2, ngx.load_ffi("ffi_test"):call("echo after require")))
        }
    }
--- request eval
["GET /cached", "GET /nocache"]
--- response_body eval
["true installed by init_worker\n",
"false attempt to call field 'load_ffi' (a nil value)\nafter require\n"]
--- no_error_log
[error]
[crit]
[emerg]
exited on signal
