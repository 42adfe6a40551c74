# vim:set ft= ts=4 sw=4 et fdm=marker:
# Hostile or careless input from Lua and from runtimes: refused with a clear error or made
# harmless, never a crash, a hang, a mixed-up runtime or a forged log line.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: timeouts that are not finite numbers >= 0 raise, at load and per call
--- config
    location = /t {
        content_by_lua_block {
            local cases = { { "0/0", 0/0 }, { '"nan"', "nan" }, { "math.huge", math.huge },
                            { "-math.huge", -math.huge }, { '"inf"', "inf" }, { "-1", -1 },
                            { '"x"', "x" } }
            local rt = assert(ngx.load_ffi("ffi_test"))
            for _, c in ipairs(cases) do
                local ok, err = pcall(ngx.load_ffi, "ffi_test", "timeout " .. c[1], { timeout = c[2] })
                ngx.say(c[1], ": ", tostring(ok), " ", (tostring(err):gsub("^.-:%d+: ", "")))
                ok, err = pcall(rt.call, rt, "echo x", { timeout = c[2] })
                ngx.say(c[1], " per call: ", tostring(ok), " ", (tostring(err):gsub("^.-:%d+: ", "")))
            end
            local r50 = assert(ngx.load_ffi("ffi_test", "timeout ok", { timeout = 50 }))
            ngx.say("50 ms: ", select(2, r50:call("sleep 300 late")))
            ngx.say("per call 50 ms: ", select(2, rt:call("sleep 300 late", { timeout = 50 })))
            ngx.say("per call 0 (none) beats the load's 50 ms: ",
                    select(2, r50:call("sleep 100 answered", { timeout = 0 })))
        }
    }
--- request
GET /t
--- response_body
0/0: false bad argument #3 to 'load' (timeout: finite number of milliseconds >= 0 expected (0: none), got nan)
0/0 per call: false bad argument #2 to runtime call (timeout: finite number of milliseconds >= 0 expected (0: none), got nan)
"nan": false bad argument #3 to 'load' (timeout: finite number of milliseconds >= 0 expected (0: none), got nan)
"nan" per call: false bad argument #2 to runtime call (timeout: finite number of milliseconds >= 0 expected (0: none), got nan)
math.huge: false bad argument #3 to 'load' (timeout: finite number of milliseconds >= 0 expected (0: none), got inf)
math.huge per call: false bad argument #2 to runtime call (timeout: finite number of milliseconds >= 0 expected (0: none), got inf)
-math.huge: false bad argument #3 to 'load' (timeout: finite number of milliseconds >= 0 expected (0: none), got -inf)
-math.huge per call: false bad argument #2 to runtime call (timeout: finite number of milliseconds >= 0 expected (0: none), got -inf)
"inf": false bad argument #3 to 'load' (timeout: finite number of milliseconds >= 0 expected (0: none), got inf)
"inf" per call: false bad argument #2 to runtime call (timeout: finite number of milliseconds >= 0 expected (0: none), got inf)
-1: false bad argument #3 to 'load' (timeout: finite number of milliseconds >= 0 expected (0: none), got -1)
-1 per call: false bad argument #2 to runtime call (timeout: finite number of milliseconds >= 0 expected (0: none), got -1)
"x": false bad argument #3 to 'load' (timeout: finite number of milliseconds >= 0 expected (0: none), got x)
"x" per call: false bad argument #2 to runtime call (timeout: finite number of milliseconds >= 0 expected (0: none), got x)
50 ms: timeout
per call 50 ms: timeout
per call 0 (none) beats the load's 50 ms: answered



=== TEST 2: runtimes are cached by (lib, cfg) exactly: no "&" collisions
--- config
    location = /t {
        content_by_lua_block {
            local a = assert(ngx.load_ffi("ffi_test", "threads=1&x"))
            local b, err = ngx.load_ffi("ffi_test&threads=1", "x")
            ngx.say("lib with & is its own library: ", b == nil, " ", err)
            local c = assert(ngx.load_ffi("ffi_test"))
            local d = assert(ngx.load_ffi("ffi_test", ""))
            ngx.say("nil cfg and empty cfg differ: ", c ~= d)
            ngx.say("same key, same runtime: ", a == ngx.load_ffi("ffi_test", "threads=1&x"))
        }
    }
--- request
GET /t
--- response_body
lib with & is its own library: true failed to load runtime library libffi_test&threads=1.so: libffi_test&threads=1.so: cannot open shared object file: No such file or directory
nil cfg and empty cfg differ: true
same key, same runtime: true
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 3: NUL bytes in lib or cfg are refused (the runtime would see a shorter string)
--- config
    location = /t {
        content_by_lua_block {
            ngx.say((select(2, pcall(ngx.load_ffi, "ffi_test\0junk")):gsub("^.-:%d+: ", "")))
            ngx.say((select(2, pcall(ngx.load_ffi, "ffi_test", "threads=1\0fail")):gsub("^.-:%d+: ", "")))
            ngx.say("requests may hold NUL bytes: ",
                    select(2, assert(ngx.load_ffi("ffi_test")):call("echo a\0b")) == "a\0b")
        }
    }
--- request
GET /t
--- response_body
bad argument #1 to 'load' (contains a NUL byte)
bad argument #2 to 'load' (contains a NUL byte)
requests may hold NUL bytes: true



=== TEST 4: a response too large for a Lua string (2 GiB - 1): false and a message, all freed
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_test"))
            local ok, err = rt:call("fill 2147483647 z")
            ngx.say(tostring(ok), " ", err)
            ngx.say("live tasks: ", require("resty_ffi").live_tasks())
            local ok2, res = rt:call("echo still fine")
            ngx.say(tostring(ok2), " ", res)
        }
    }
--- request
GET /t
--- response_body
false response of 2147483647 bytes does not fit in a Lua string: string length overflow
live tasks: 0
true still fine
--- timeout: 30



=== TEST 5: a runtime answering everything twice: "dropped" is reported at most once a second
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_test", "threads=2"))
            local deadline = ngx.now() + 2.5
            local n = 0
            while ngx.now() < deadline do
                assert(rt:call("twice x"))
                n = n + 1
            end
            ngx.sleep(1.2)
            ngx.say("many calls: ", n > 1000)
            local f = assert(io.open(ngx.config.prefix() .. "logs/error.log"))
            local log = f:read("*a")
            f:close()
            local lines, total = 0, 0
            for k in log:gmatch("dropped (%d+) response%(s%) to tasks that were not waiting") do
                lines = lines + 1
                total = total + tonumber(k)
            end
            ngx.say("report lines: ", lines >= 2 and lines <= 5)
            ngx.say("every stray answer counted: ", total == n)
        }
    }
--- request
GET /t
--- response_body
many calls: true
report lines: true
every stray answer counted: true
--- timeout: 15
--- log_level: warn
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 6: runtime log lines cannot forge lines or write binary into error.log
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"pool"}')
            rt:call("log warn first\n2026/01/01 00:00:00 [alert] 1#1: FAKE injected\nnul\0byte\r")
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log eval
qr/\[warn\] .*\[resty_ffi\] ffi_sdk_test: first\\x0A2026\/01\/01 00:00:00 \[alert\] 1#1: FAKE injected\\x0Anul\\x00byte$/
--- no_error_log eval
[
qr/^2026\/01\/01 00:00:00 \[alert\]/,
qr/^nul/,
"[crit]",
"[emerg]",
]



=== TEST 7: task_poll on nginx's own thread (inside libffi_init) returns NULL and says why
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_test", "poll_in_init"))
            ngx.say("task_poll in libffi_init returned: ", select(2, rt:call("init_poll")))
            ngx.say(select(2, rt:call("echo served after")))
        }
    }
--- request
GET /t
--- response_body
task_poll in libffi_init returned: NULL
served after
--- error_log
task_poll called on the nginx worker thread (from libffi_init?): it would block the worker for good, so it returns NULL
--- no_error_log
[alert]
[crit]
[emerg]
