# vim:set ft= ts=4 sw=4 et fdm=marker:
# Go runtimes on fresh workers (issue 12). cgo types a task handle (`void *`) as an
# unsafe.Pointer, and Go aborts the process when it copies a goroutine stack holding a
# "pointer" below 4096 ("runtime: bad pointer in frame ...", "fatal error: invalid
# pointer found on stack"): a worker's first tasks must not have such handles. An inner
# nginx (t/lib/inner_nginx.lua, one worker) is reloaded again and again, so each round
# calls a worker that has served nothing yet:
#   TEST 1: libffi_go_raw.so (runtimes/go/test-runtimes/raw), raw cgo as lua-resty-ffi's Go examples
#           are written: the handle lives on a goroutine stack that a deep recursion grows;
#           50 fresh workers, each with its first call, then 100 at once.
#   TEST 2: libffi_go_test.so (runtimes/go/test-runtimes/sdk, on the Go SDK): 50 fresh workers, each with a
#           burst of 3000 calls at once as its first work ("deep 100": each handler grows
#           its goroutine's stack). The SDK keeps the handle in a heap object, not on a
#           goroutine stack, so small handles did not crash it: this block guards the
#           3000 handles in flight on each fresh worker.
# Every answer must be right and no worker may die (error.log: "exited on signal",
# "fatal error", "bad pointer").

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    init_by_lua_block {
        -- The inner nginx: one worker; /raw and /sdk report whether the call was the
        -- worker's first work, then how many answers were right. (Pieces: an inlined long
        -- string must fit in nginx's 4 KiB config buffer.)
        package.loaded.inner_conf = [[
$TEST_NGINX_LOAD_MODULE_LINES
user root;
worker_processes 1;
# a crashing worker (the bug under test) leaves no core file behind
worker_rlimit_core 0;
worker_shutdown_timeout 5s;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block { require "resty_ffi" }
    server {
        listen 127.0.0.1:PORT reuseport;
]] .. [[
        location = /raw {
            content_by_lua_block {
                local first = not package.loaded.fresh_worker_used
                package.loaded.fresh_worker_used = true
                local rt = assert(ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_go_raw.so"))
                local depth, text = 2000, "fresh worker"
                local sum = 0
                for i = 1, #text do sum = sum + text:byte(i) end
                local function call(id)
                    local ok, res = rt:call('{"id":' .. id .. ',"depth":' .. depth
                                            .. ',"text":"' .. text .. '"}')
                    return ok and res == '{"id":' .. id .. ',"depth":' .. depth
                           .. ',"levels":' .. depth .. ',"sum":' .. sum * depth
                           .. ',"text":"' .. text .. '"}'
                end
                -- The worker's first call on its own, then n at once.
                local first_ok = call(0)
                local n, threads, good = tonumber(ngx.var.arg_n), {}, 0
                for i = 1, n do threads[i] = ngx.thread.spawn(call, i) end
                for i = 1, n do
                    local _, ok = ngx.thread.wait(threads[i])
                    if ok then good = good + 1 end
                end
                ngx.say(first and "first" or "again", " ", first_ok and "right" or "wrong", " ", good)
            }
        }
]] .. [[
        location = /sdk {
            content_by_lua_block {
                local first = not package.loaded.fresh_worker_used
                package.loaded.fresh_worker_used = true
                local rt = assert(ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_go_test.so"))
                -- "echo burst 7", or "deep 100 burst 7" (a handler whose stack grows)
                local cmd = ngx.var.arg_cmd == "deep" and "deep " .. ngx.var.arg_depth .. " " or "echo "
                local function call(i)
                    local ok, res = rt:call(cmd .. "burst " .. i)
                    return ok and res == "burst " .. i
                end
                local n, threads, good = tonumber(ngx.var.arg_n), {}, 0
                for i = 1, n do threads[i] = ngx.thread.spawn(call, i) end
                for i = 1, n do
                    local _, ok = ngx.thread.wait(threads[i])
                    if ok then good = good + 1 end
                end
                ngx.say(first and "first" or "again", " ", good)
            }
        }
    }
}
]]

        -- Reloads the inner nginx and waits until its one worker is a new one (the old one
        -- gone); the first round starts it.
        local inner_nginx = require "inner_nginx"
        function package.loaded.fresh_worker(inner)
            if not inner:master() then
                assert(inner:start())
            else
                local old = inner:workers()
                inner:signal("HUP")
                local gone = inner_nginx.wait_for(function()
                    for _, pid in ipairs(old) do
                        if inner_nginx.alive(pid) then return false end
                    end
                    return true
                end, 100)
                if not gone then return false end
            end
            return inner_nginx.wait_for(function() return #inner:workers() == 1 end, 100)
        end

        -- GET path from the inner nginx: the body, or nil when the worker died meanwhile.
        function package.loaded.inner_get(inner, path)
            local sock = ngx.socket.tcp()
            sock:settimeout(20000)
            local ok = sock:connect("127.0.0.1", inner.port)
            if not ok then return nil end
            sock:send("GET " .. path .. " HTTP/1.0\r\nHost: localhost\r\n\r\n")
            local resp = sock:receive("*a")
            sock:close()
            return resp and resp:match("^HTTP/1%.%d 200 .-\r\n\r\n(.*)$")
        end

        -- Worker deaths and the Go runtime's fatal errors (its stderr is error.log).
        function package.loaded.crashes(inner)
            local log = inner:error_log()
            return inner_nginx.count(log, "exited on signal"),
                   inner_nginx.count(log, "fatal error"),
                   inner_nginx.count(log, "bad pointer")
        end
    }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: raw cgo runtime (handle on a growing goroutine stack): a fresh worker's first call, 50 times
--- config
    location = /t {
        content_by_lua_block {
            local inner_nginx = require "inner_nginx"
            local fresh_worker = package.loaded.fresh_worker
            local inner_get = package.loaded.inner_get
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner-raw", package.loaded.inner_conf,
                                          30221, "$TEST_NGINX_BINARY")
            local rounds, fresh, right, burst, n = 50, 0, 0, 0, 100
            local started = ngx.now()
            for _ = 1, rounds do
                if fresh_worker(inner) then
                    local body = inner_get(inner, "/raw?n=" .. n) or ""
                    local first, first_ok, good = body:match("^(%a+) (%a+) (%d+)")
                    if first == "first" then fresh = fresh + 1 end
                    if first_ok == "right" then right = right + 1 end
                    burst = burst + (tonumber(good) or 0)
                end
                ngx.update_time()
            end
            ngx.log(ngx.WARN, "022 raw: ", rounds, " rounds in ", ngx.now() - started, " s")
            ngx.say("fresh workers called: ", fresh)
            ngx.say("first calls right: ", right)
            ngx.say("calls at once right: ", burst, "/", rounds * n)
            ngx.say("worker deaths, fatal errors, bad pointers: ", table.concat({ package.loaded.crashes(inner) }, " "))
            ngx.say("nginx stopped: ", inner:stop("QUIT"))
            ngx.say("alerts: ", inner:alerts())
        }
    }
--- request
GET /t
--- response_body
fresh workers called: 50
first calls right: 50
calls at once right: 5000/5000
worker deaths, fatal errors, bad pointers: 0 0 0
nginx stopped: true
alerts: 0
--- timeout: 120



=== TEST 2: Go SDK runtime: 3000 calls at once (handlers growing their stacks) as a fresh worker's first work, 50 times
--- config
    location = /t {
        content_by_lua_block {
            local inner_nginx = require "inner_nginx"
            local fresh_worker = package.loaded.fresh_worker
            local inner_get = package.loaded.inner_get
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner-sdk", package.loaded.inner_conf,
                                          30222, "$TEST_NGINX_BINARY")
            local rounds, fresh, right, n = 50, 0, 0, 3000
            local started = ngx.now()
            for _ = 1, rounds do
                if fresh_worker(inner) then
                    local body = inner_get(inner, "/sdk?cmd=deep&depth=100&n=" .. n) or ""
                    local first, good = body:match("^(%a+) (%d+)")
                    if first == "first" then fresh = fresh + 1 end
                    right = right + (tonumber(good) or 0)
                end
                ngx.update_time()
            end
            ngx.log(ngx.WARN, "022 sdk: ", rounds, " rounds in ", ngx.now() - started, " s")
            ngx.say("fresh workers called: ", fresh)
            ngx.say("calls right: ", right, "/", rounds * n)
            ngx.say("worker deaths, fatal errors, bad pointers: ", table.concat({ package.loaded.crashes(inner) }, " "))
            ngx.say("nginx stopped: ", inner:stop("QUIT"))
            ngx.say("alerts: ", inner:alerts())
        }
    }
--- request
GET /t
--- response_body
fresh workers called: 50
calls right: 150000/150000
worker deaths, fatal errors, bad pointers: 0 0 0
nginx stopped: true
alerts: 0
--- timeout: 150
