# vim:set ft= ts=4 sw=4 et fdm=marker:
# Go runtimes on the Go SDK (runtimes/go/sdk): echo, errors, panics, logging, unload, and go-redis
# against a real redis-server (runtimes/go/test-env.sh starts it on $TEST_NGINX_REDIS_PORT).
# libffi_go_echo.so: runtimes/go/examples/echo; libffi_go_redis.so: runtimes/go/examples/redis;
# libffi_go_test.so: runtimes/go/test-runtimes/sdk (commands: echo, error, plain, panic, goexit, log, closes).

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: Go echo: text, binary bytes with NULs, empty, 1 MiB; cfg is a prefix
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_echo"))
            ngx.say(rt:echo("hello, go"))
            local bytes = {}
            for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
            local bin = table.concat(bytes) .. "\0\0tail\0"
            local ok, res = rt:echo(bin)
            ngx.say("binary: ", ok, " ", #res, " ", res == bin)
            ok, res = rt:echo("")
            ngx.say("empty: ", ok, " [", res, "] ", type(res))
            ok, res = rt:echo("\0")
            ngx.say("one NUL: ", ok, " ", #res, " ", res == "\0")
            local big = string.rep("0123456789abcdef", 65536)
            ok, res = rt:echo(big)
            ngx.say("1 MiB: ", ok, " ", #res, " ", res == big)
            local pre = assert(ngx.load_ffi("ffi_go_echo", "> "))
            ngx.say(pre:echo("prefixed"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
truehello, go
binary: true 263 true
empty: true [] string
one NUL: true 1 true
1 MiB: true 1048576 true
true> prefixed
live: 0



=== TEST 2: a handler's error gives false, rc, message (restyffi.Errorf code, or -1 = RESTY_FFI_RC_ERROR)
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            ngx.say(rt:call("error 7 went wrong"))
            ngx.say(rt:call("error -300 negative"))
            ngx.say(rt:call("error 0 zero is still an error"))
            ngx.say(rt:call("plain no code"))
            ngx.say(rt:call("bogus"))
            ngx.say(rt:call("echo still fine"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
false7went wrong
false-300negative
false-1zero is still an error
false-1no code
false22unknown command "bogus"
truestill fine
live: 0



=== TEST 3: a panicking handler gives an error answer and a log line; the runtime keeps serving
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            ngx.say(rt:call("panic boom"))
            ngx.say(rt:call("echo after panic"))
            ngx.say(rt:call("goexit"))
            ngx.say(rt:call("echo after goexit"))
            local threads = {}
            for i = 1, 50 do
                local cmd = i % 2 == 0 and "panic p" .. i or "echo e" .. i
                threads[i] = ngx.thread.spawn(function() return rt:call(cmd) end)
            end
            local good = 0
            for i = 1, 50 do
                local _, ok, a, b = ngx.thread.wait(threads[i])
                if i % 2 == 0 and not ok and a == -2 and b == "panic: p" .. i then
                    good = good + 1
                elseif i % 2 == 1 and ok and a == "e" .. i then
                    good = good + 1
                end
            end
            ngx.say("mixed: ", good)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
false-2panic: boom
trueafter panic
false-2handler exited without answering (runtime.Goexit)
trueafter goexit
mixed: 50
live: 0
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] restyffi: handler panic: boom/,
qr/\[debug\] .*\[resty_ffi\] restyffi: handler panic stack:/,
qr/\[error\] .*\[resty_ffi\] restyffi: handler exited without answering/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 4: a goroutine a handler starts with restyffi.Go panics: recovered and logged with its stack, the worker lives on
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            ngx.say(rt:call("echo before"))
            local pid = ngx.worker.pid()
            ngx.say(rt:call("gopanic deliberate goroutine panic"))
            ngx.say(rt:call("echo after the goroutine panic"))
            local good = 0
            for i = 1, 20 do
                local ok, res = rt:call("gopanic p" .. i)
                if ok and res == "goroutine panicked, worker alive" then good = good + 1 end
            end
            ngx.say("20 more: ", good)
            ngx.say(rt:call("echo still serving"))
            ngx.say("same worker: ", ngx.worker.pid() == pid)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
truebefore
truegoroutine panicked, worker alive
trueafter the goroutine panic
20 more: 20
truestill serving
same worker: true
live: 0
--- wait: 0.2
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] restyffi: goroutine panic: deliberate goroutine panic\b/,
qr/goroutine \d+ \[running\]:/,
qr/main\.commands\.Handle\.func1\(\)/,
qr/created by github\.com\/resty-ffi\/resty-ffi\/runtimes\/go\/sdk\.Go in goroutine \d+/,
qr/\[error\] .*\[resty_ffi\] restyffi: goroutine panic: p20\b/,
]
--- no_error_log
exited on signal
[alert]
[crit]
[emerg]



=== TEST 5: restyffi.Log lines reach error.log at their nginx level
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            for _, level in ipairs({ 4, 5, 6, 7, 8 }) do
                rt:call("log " .. level .. " go says level " .. level)
            end
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] go says level 4/,
qr/\[warn\] .*\[resty_ffi\] go says level 5/,
qr/\[notice\] .*\[resty_ffi\] go says level 6/,
qr/\[info\] .*\[resty_ffi\] go says level 7/,
qr/\[debug\] .*\[resty_ffi\] go says level 8/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 6: the error_log level filters Go log lines
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            for _, level in ipairs({ 4, 5, 6, 7, 8 }) do
                rt:call("log " .. level .. " filtered go level " .. level)
            end
            ngx.say("ok")
        }
    }
--- log_level: warn
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log
filtered go level 4
filtered go level 5
--- no_error_log
filtered go level 6
filtered go level 7
filtered go level 8
[alert]
[crit]
[emerg]



=== TEST 7: a failing or panicking setup fails the load with nil, err and a logged reason
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.load_ffi("ffi_go_test", "fail"))
            ngx.say(ngx.load_ffi("ffi_go_test", "panic"))
            local rt = assert(ngx.load_ffi("ffi_go_test", "fine"))
            ngx.say(rt:call("echo the library still loads"))
        }
    }
--- request
GET /t
--- response_body
nillibffi_init of libffi_go_test.so failed: rc=2: restyffi: runtime init failed: cfg asked this runtime to fail
nillibffi_init of libffi_go_test.so failed: rc=3: restyffi: runtime setup panicked: cfg asked this runtime to panic
truethe library still loads
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] restyffi: runtime init failed: cfg asked this runtime to fail/,
qr/\[error\] .*\[resty_ffi\] restyffi: runtime setup panicked: cfg asked this runtime to panic/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 8: unload: calls in flight are answered, later calls refused, the Handler is closed, a reload serves
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty_ffi"
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            local threads = {}
            for i = 1, 100 do
                threads[i] = ngx.thread.spawn(function() return rt:call("echo " .. i) end)
            end
            ngx.say("unload: ", rt:__unload())
            local good = 0
            for i = 1, 100 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and res == tostring(i) then good = good + 1 end
            end
            ngx.say("answered: ", good)
            ngx.say(rt:call("echo refused"))

            -- Close runs on the runtime's side once its handlers returned: wait for it.
            local again = assert(ngx.load_ffi("ffi_go_test"))
            local closes
            for _ = 1, 500 do
                closes = select(2, again:call("closes"))
                if closes ~= "0" then break end
                ngx.sleep(0.01)
            end
            ngx.say("closes: ", closes)
            ngx.say(again:call("echo reloaded"))

            local echo = assert(ngx.load_ffi("ffi_go_echo"))
            local ok, res = echo:echo("x")
            ngx.say(ok, " ", res, " ", echo:__unload(), " ", select(2, echo:echo("y")))
            echo = assert(ngx.load_ffi("ffi_go_echo"))
            ngx.say(echo:echo("echo reloaded"))
            ngx.say("live: ", resty_ffi.live_tasks())
        }
    }
--- request
GET /t
--- response_body
unload: true
answered: 100
falseruntime unloaded
closes: 1
truereloaded
true x true runtime unloaded
trueecho reloaded
live: 0
--- wait: 0.1
--- error_log eval
qr/\[notice\] .*\[resty_ffi\] go test runtime closed/



=== TEST 9: go-redis against redis-server: set, get, incr, del, not found, bad requests
--- config
    location = /t {
        content_by_lua_block {
            local rt, err = ngx.load_ffi("ffi_go_redis",
                '{"addr":"127.0.0.1:$TEST_NGINX_REDIS_PORT"}')
            if not rt then ngx.say(err) return end
            local k = "resty_ffi_t8:"
            rt:call('{"cmd":"del","key":"' .. k .. 'k"}')
            rt:call('{"cmd":"del","key":"' .. k .. 'n"}')
            ngx.say(rt:call('{"cmd":"ping"}'))
            ngx.say(rt:call('{"cmd":"set","key":"' .. k .. 'k","value":"v 1"}'))
            ngx.say(rt:call('{"cmd":"get","key":"' .. k .. 'k"}'))
            ngx.say(rt:call('{"cmd":"incr","key":"' .. k .. 'n"}'))
            ngx.say(rt:call('{"cmd":"incr","key":"' .. k .. 'n","by":41}'))
            ngx.say(rt:call('{"cmd":"del","key":"' .. k .. 'k"}'))
            ngx.say(rt:call('{"cmd":"get","key":"' .. k .. 'k"}'))
            ngx.say(rt:call('{"cmd":"incr","key":"' .. k .. 'n","by":"x"}'))
            ngx.say(rt:call('{"cmd":"flushall"}'))
            ngx.say(rt:call('not json'))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
truePONG
trueOK
truev 1
true1
true42
true1
false404resty_ffi_t8:k: no such key
false400bad request: json: cannot unmarshal string into Go struct field request.by of type int64
false400bad request: unknown cmd "flushall"
false400bad request: invalid character 'o' in literal null (expecting 'u')
live: 0
--- no_error_log
[error]
[warn]
[alert]
[crit]
[emerg]



=== TEST 10: 200 go-redis calls in flight at once from light threads, all correct
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_redis",
                '{"addr":"127.0.0.1:$TEST_NGINX_REDIS_PORT"}'))
            local n = "resty_ffi_t9:n"
            rt:call('{"cmd":"del","key":"' .. n .. '"}')
            local threads = {}
            for i = 1, 200 do
                threads[i] = ngx.thread.spawn(function()
                    local key = "resty_ffi_t9:k" .. i
                    local ok1, got = rt:call('{"cmd":"incr","key":"' .. n .. '"}')
                    local ok2 = rt:call('{"cmd":"set","key":"' .. key .. '","value":"v' .. i .. '"}')
                    local ok3, v = rt:call('{"cmd":"get","key":"' .. key .. '"}')
                    rt:call('{"cmd":"del","key":"' .. key .. '"}')
                    return ok1 and ok2 and ok3 and v == "v" .. i and tonumber(got)
                end)
            end
            local seen, good = {}, 0
            for i = 1, 200 do
                local _, num = ngx.thread.wait(threads[i])
                if num and num >= 1 and num <= 200 and not seen[num] then
                    seen[num] = true
                    good = good + 1
                end
            end
            ngx.say("correct: ", good)
            ngx.say(rt:call('{"cmd":"get","key":"' .. n .. '"}'))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
correct: 200
true200
live: 0
--- no_error_log
[error]
[warn]
[alert]
[crit]
[emerg]



=== TEST 11: many requests at once, each with go-redis calls in flight
--- config
    location = /incr {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_redis",
                '{"addr":"127.0.0.1:$TEST_NGINX_REDIS_PORT"}'))
            local threads = {}
            for i = 1, 20 do
                threads[i] = ngx.thread.spawn(function()
                    return rt:call('{"cmd":"incr","key":"resty_ffi_t10:n"}')
                end)
            end
            for i = 1, 20 do
                local _, ok, num = ngx.thread.wait(threads[i])
                ngx.say(ok and num or "failed")
            end
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_redis",
                '{"addr":"127.0.0.1:$TEST_NGINX_REDIS_PORT"}'))
            rt:call('{"cmd":"del","key":"resty_ffi_t10:n"}')
            local function get(path)
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
                assert(sock:send("GET " .. path .. " HTTP/1.0\r\nHost: localhost\r\n\r\n"))
                local res = assert(sock:receive("*a"))
                sock:close()
                return res:match("\r\n\r\n(.*)$")
            end
            local requests = {}
            for i = 1, 10 do
                requests[i] = ngx.thread.spawn(get, "/incr")
            end
            local seen, good = {}, 0
            for i = 1, 10 do
                local _, body = ngx.thread.wait(requests[i])
                for num in (body or ""):gmatch("(%d+)\n") do
                    num = tonumber(num)
                    if num <= 200 and not seen[num] then
                        seen[num] = true
                        good = good + 1
                    end
                end
            end
            ngx.say("distinct answers from 10 requests: ", good)
            ngx.say(rt:call('{"cmd":"get","key":"resty_ffi_t10:n"}'))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
distinct answers from 10 requests: 200
true200
live: 0
--- no_error_log
[error]
[warn]
[alert]
[crit]
[emerg]



=== TEST 12: another request is served while a go-redis call waits (blpop answered by that request's rpush)
--- config
    location = /push {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_redis",
                '{"addr":"127.0.0.1:$TEST_NGINX_REDIS_PORT"}'))
            -- Push only once redis holds the blpop: its caller is then surely in flight.
            local blocked
            for _ = 1, 500 do
                local _, info = rt:call('{"cmd":"info","section":"clients"}')
                blocked = tonumber(info and info:match("blocked_clients:(%d+)"))
                if blocked and blocked > 0 then break end
                ngx.sleep(0.01)
            end
            ngx.say("blocked clients: ", blocked)
            ngx.say(rt:call('{"cmd":"rpush","key":"resty_ffi_t11:l","value":"from another request"}'))
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_redis",
                '{"addr":"127.0.0.1:$TEST_NGINX_REDIS_PORT"}'))
            rt:call('{"cmd":"del","key":"resty_ffi_t11:l"}')
            local waiter = ngx.thread.spawn(function()
                return rt:call('{"cmd":"blpop","key":"resty_ffi_t11:l","timeout_s":10}')
            end)
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
            assert(sock:send("GET /push HTTP/1.0\r\nHost: localhost\r\n\r\n"))
            local res = assert(sock:receive("*a"))
            sock:close()
            ngx.print(res:match("\r\n\r\n(.*)$"))
            ngx.say("waiter: ", select(2, ngx.thread.wait(waiter)))
            ngx.say(rt:call('{"cmd":"blpop","key":"resty_ffi_t11:l","timeout_s":1}'))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
blocked clients: 1
true1
waiter: truefrom another request
false408blpop resty_ffi_t11:l: nothing within 1 s
live: 0
--- no_error_log
[error]
[warn]
[alert]
[crit]
[emerg]



=== TEST 13: bad cfg or an unreachable server fails the go-redis load with nil, err and a reason
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.load_ffi("ffi_go_redis"))
            ngx.say(ngx.load_ffi("ffi_go_redis", '{"adr":"127.0.0.1:1"}'))
            ngx.say(ngx.load_ffi("ffi_go_redis", '{"addr":"127.0.0.1:1","timeout_ms":500}'))
            local rt = assert(ngx.load_ffi("ffi_go_redis",
                '{"addr":"127.0.0.1:$TEST_NGINX_REDIS_PORT"}'))
            ngx.say(rt:call('{"cmd":"ping"}'))
        }
    }
--- request
GET /t
--- response_body
nillibffi_init of libffi_go_redis.so failed: rc=2: restyffi: runtime init failed: cfg: a JSON object with "addr" is required
nillibffi_init of libffi_go_redis.so failed: rc=2: restyffi: runtime init failed: cfg: bad JSON: json: unknown field "adr"
nillibffi_init of libffi_go_redis.so failed: rc=2: restyffi: runtime init failed: redis at 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused
truePONG
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] restyffi: runtime init failed: cfg: a JSON object with "addr" is required/,
qr/\[error\] .*\[resty_ffi\] restyffi: runtime init failed: cfg: bad JSON: json: unknown field "adr"/,
qr/\[error\] .*\[resty_ffi\] restyffi: runtime init failed: redis at 127.0.0.1:1: .*connection refused/,
]
--- no_error_log
[alert]
[crit]
[emerg]
