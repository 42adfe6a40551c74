# vim:set ft= ts=4 sw=4 et fdm=marker:
# The Node.js loader (libffi_nodejs.so): CommonJS and ES modules, binary payloads, many calls
# in flight on Node's event loop, failing handlers and loads, unload and fresh reloads,
# console into error.log, a runtime that polls its queue itself, Node's http client against
# an upstream, nginx's signals, reload and quit with Node loaded.
# JS: runtimes/nodejs/test-runtimes/ ($TEST_NGINX_NODE_TESTS) and runtimes/nodejs/examples/ ($TEST_NGINX_NODE_EXAMPLES).

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    init_worker_by_lua_block {
        require "resty_ffi"
        local helpers = require "test_helpers"
        -- node_load("<module>,<export>[,<cfg>]"), modules of t/nodejs by file name.
        function node_load(cfg)
            return ngx.load_ffi("ffi_nodejs", cfg)
        end
        function t_node(cfg)
            return ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/" .. cfg)
        end
        -- Waits until t/nodejs/cancel.js's handlers saw n aborts (all flagged).
        function wait_for_seen(rt, n)
            return helpers.wait_for_answer(rt, "seen", "aborted=" .. n .. " flagged=" .. n)
        end
        abort_after = helpers.abort_after
    }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: echo: CommonJS and ES module examples, cfg prefix, two runtimes in one Node
--- config
    location = /t {
        content_by_lua_block {
            local cjs = assert(node_load("$TEST_NGINX_NODE_EXAMPLES/echo/echo.js,init,>> "))
            ngx.say(cjs:echo("hello"))
            local esm = assert(node_load("$TEST_NGINX_NODE_EXAMPLES/echo/echo.mjs,default,esm: "))
            ngx.say(esm:echo("hello"))
            local plain = assert(node_load("$TEST_NGINX_NODE_EXAMPLES/echo/echo.js,init"))
            ngx.say(plain:echo("no prefix"))
            ngx.say("same object for the same lib and cfg: ",
                    cjs == node_load("$TEST_NGINX_NODE_EXAMPLES/echo/echo.js,init,>> "))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
true>> hello
trueesm: hello
trueno prefix
same object for the same lib and cfg: true
live: 0
--- error_log
echo: loaded with prefix ">> "



=== TEST 2: binary payloads both ways: every byte value, NULs, empty, 4 MiB; answer types
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(node_load("$TEST_NGINX_NODE_EXAMPLES/echo/echo.js,init"))
            local all = {}
            for i = 0, 255 do all[#all + 1] = string.char(i) end
            all = table.concat(all)
            local ok, res = rt:echo(all)
            ngx.say("all bytes: ", ok, " ", res == all)
            local nuls = "a\0b\0\0c\255"
            ok, res = rt:echo(nuls)
            ngx.say("NULs: ", ok, " ", res == nuls)
            ok, res = rt:echo("")
            ngx.say("empty: ", ok, " [", res, "]")
            local big = string.rep(all, 4 * 4096)
            ok, res = rt:echo(big)
            ngx.say("4 MiB: ", ok, " ", #res, " ", res == big)

            local b = assert(t_node("behaviours.js,init"))
            ok, res = b:call("bytes")
            ngx.say("Uint8Array: ", ok, " ", res == all)
            ok, res = b:call("nothing")
            ngx.say("undefined: ", ok, " ", res)
            ok, res = b:call("empty")
            ngx.say("empty string: ", ok, " [", res, "]")
            ok, res = b:call("echo caf\195\169 \0 x")
            ngx.say("utf-8 and NUL: ", ok, " ", res == "caf\195\169 \0 x")
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
all bytes: true true
NULs: true true
empty: true []
4 MiB: true 4194304 true
Uint8Array: true true
undefined: true nil
empty string: true []
utf-8 and NUL: true true
live: 0



=== TEST 3: 200 calls in flight at once from light threads; Node answers none before the 200th arrives, and serves other requests meanwhile
--- config
    location = /other {
        content_by_lua_block {
            local rt = assert(t_node("behaviours.js,init,201"))
            ngx.print(select(2, rt:call("echo served meanwhile")))
        }
    }
    location = /t {
        content_by_lua_block {
            -- "hold" is answered only when 201 holds are in flight (cfg): 200 here, the
            -- last one after another request was served while they all waited.
            local rt = assert(t_node("behaviours.js,init,201"))
            local threads, done = {}, 0
            for i = 1, 200 do
                threads[i] = ngx.thread.spawn(function()
                    local ok, res = rt:call("hold")
                    done = done + 1
                    return ok, res
                end)
            end
            ngx.sleep(0.01)
            local other = ngx.location.capture("/other")
            ngx.say("other request: ", other.body, ", holds answered before it: ", done)
            local ok, res = rt:call("hold")
            ngx.say("201st: ", ok, " ", res)
            local same = 0
            for i = 1, 200 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and res == "released with 201 in flight" then same = same + 1 end
            end
            ngx.say("holds released together: ", same)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
other request: served meanwhile, holds answered before it: 0
201st: true released with 201 in flight
holds released together: 200
live: 0



=== TEST 4: a throwing handler, a rejected promise, a custom rc, a bad answer, process.exit(): error answers, and the runtime keeps serving
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(t_node("behaviours.js,init"))
            for _, cmd in ipairs({ "throw boom", "throw-string plain text", "reject bad type",
                                   "rc 42", "rc 0", "object", "exit", "nope" }) do
                ngx.say(cmd, ": ", table.concat({ tostring(select(1, rt:call(cmd))),
                                                  tostring(select(2, rt:call(cmd))),
                                                  tostring(select(3, rt:call(cmd))) }, " | "))
            end
            local sync = assert(t_node("behaviours.js,sync"))
            ngx.say("sync throw: ", table.concat({ tostring(select(1, sync:call(""))),
                                                   tostring(select(2, sync:call(""))),
                                                   tostring(select(3, sync:call(""))) }, " | "))
            ngx.say("sync ok: ", select(2, sync:call("abc")))
            ngx.say("rcs: ", select(2, rt:call("rcs")))
            ngx.say("still serving: ", select(2, rt:call("echo yes")))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
throw boom: false | -2 | boom
throw-string plain text: false | -2 | plain text
reject bad type: false | -2 | bad type
rc 42: false | 42 | failed with rc 42
rc 0: false | -1 | failed with rc 0
object: false | -1 | node: the handler returned an object (Object): a Buffer, a typed array, a string, null or undefined expected
exit: false | -2 | process.exit(3) in a resty-ffi runtime: the nginx worker is not the runtime's to end
nope: false | -2 | unknown command "nope"
sync throw: false | -2 | empty request
sync ok: ABC
rcs: -1 -2 -3 -4 -5
still serving: yes
live: 0



=== TEST 5: uncaught exceptions and unhandled rejections (outside any call) are logged; the runtime goes on
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(t_node("behaviours.js,init"))
            ngx.say(select(2, rt:call("uncaught")))
            ngx.sleep(0.1)
            ngx.say(select(2, rt:call("later 10")))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
scheduled
later 10
live: 0
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] node: uncaught exception: Error: thrown from a timer/,
qr/\[error\] .*\[resty_ffi\] node: unhandled promise rejection: Error: nobody catches this/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 6: failing loads give nil and the reason (also in error.log); the worker and its Node go on
--- config
    location = /t {
        content_by_lua_block {
            for _, cfg in ipairs({
                "missing.js,init",
                "syntax-error.js,init",
                "bad-loads.js,nope",
                "bad-loads.js,notAFunction",
                "bad-loads.js,throws,db.example",
                "bad-loads.js,rejects",
                "bad-loads.js,notAHandler",
                "bad-loads.js",
            }) do
                local rt, err = t_node(cfg)
                err = err and err:gsub(("$TEST_NGINX_NODE_TESTS/"):gsub("%p", "%%%0"), "")
                ngx.say(cfg, ": ", tostring(rt), ": ", err)
            end
            local rt, err = node_load(nil)
            ngx.say("no cfg: ", tostring(rt), ": ", err)
            local slow = assert(t_node("bad-loads.js,slowSetup,async setup"))
            ngx.say("after all that: ", select(2, slow:call("works")))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
missing.js,init: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: missing.js: Error: Cannot find module 'missing.js'
syntax-error.js,init: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: syntax-error.js: syntax-error.js:3: SyntaxError: Unexpected identifier
bad-loads.js,nope: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: bad-loads.js: TypeError: bad-loads.js has no function export "nope" (it is undefined)
bad-loads.js,notAFunction: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: bad-loads.js: TypeError: bad-loads.js has no function export "notAFunction" (it is a string)
bad-loads.js,throws,db.example: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: bad-loads.js: Error: no database at "db.example"
bad-loads.js,rejects: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: bad-loads.js: RangeError: async setup failed
bad-loads.js,notAHandler: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: bad-loads.js: TypeError: notAHandler() returned a number: a handler function (or require('resty_ffi').POLLS_ITSELF) expected
bad-loads.js: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: cfg must be "<module path>[?],<export>[,<cfg>]", got "bad-loads.js" (no export name)
no cfg: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: cfg is required: "<module path>[?],<export>[,<cfg>]"
after all that: async setup: works
live: 0
--- error_log
[resty_ffi] ffi_nodejs: 
no database at "db.example"
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 7: unload: calls in flight are answered, later calls refused; '?' loads a changed module afresh, without '?' the loaded one is kept
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(t_node("behaviours.js,init"))
            local th = ngx.thread.spawn(function() return rt:call("later 100") end)
            ngx.sleep(0.02)
            ngx.say("unload: ", rt:__unload())
            local _, ok, res = ngx.thread.wait(th)
            ngx.say("in flight: ", ok, " ", res)
            ngx.say("after: ", table.concat({ tostring(select(1, rt:call("echo x"))),
                                              tostring(select(2, rt:call("echo x"))) }, " "))
            local again = assert(t_node("behaviours.js,init"))
            ngx.say("loaded again: ", again ~= rt, " ", select(2, again:call("echo back")))

            local file = ngx.config.prefix() .. "html/versioned.js"
            local function write(version)
                local f = assert(io.open(file, "w"))
                f:write("exports.init = () => () => 'version " .. version .. "';\n")
                f:close()
            end
            write(1)
            local v1 = assert(node_load(file .. ",init"))
            ngx.say(select(2, v1:call("")))
            v1:__unload()
            write(2)
            local kept = assert(node_load(file .. ",init"))
            ngx.say("without ?: ", select(2, kept:call("")))
            kept:__unload()
            local fresh = assert(node_load(file .. "?,init"))
            ngx.say("with ?: ", select(2, fresh:call("")))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
unload: true
in flight: true later 100
after: false runtime unloaded
loaded again: true back
version 1
without ?: version 1
with ?: version 2
live: 0
--- error_log
behaviours: unloaded after 1 call(s)



=== TEST 8: console.*, process.stdout and resty_ffi.log go to error.log at matching levels
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(t_node("behaviours.js,init"))
            ngx.say(select(2, rt:call("log abc")))
        }
    }
--- request
GET /t
--- response_body
logged
--- error_log eval
[
qr/\[info\] .*\[resty_ffi\] node: console.log abc/,
qr/\[info\] .*\[resty_ffi\] node: console.info \{ arg: 'abc' \}/,
qr/\[debug\] .*\[resty_ffi\] node: console.debug/,
qr/\[warn\] .*\[resty_ffi\] node: console.warn abc/,
qr/\[error\] .*\[resty_ffi\] node: console.error abc/,
qr/\[notice\] .*\[resty_ffi\] node: resty.log notice 42/,
qr/\[info\] .*\[resty_ffi\] node: process.stdout abc/,
qr/\[warn\] .*\[resty_ffi\] node: DeprecationWarning: an emitted warning/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 9: a runtime that polls its queue itself from a worker thread (raw task API); its worker leaves on unload
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(t_node("self-poll.js,init,polled: "))
            ngx.say(rt:call("hello"))
            local threads = {}
            for i = 1, 20 do
                threads[i] = ngx.thread.spawn(function() return rt:call("n" .. i) end)
            end
            local good = 0
            for i = 1, 20 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and res == "polled: N" .. i then good = good + 1 end
            end
            ngx.say("answered: ", good)
            rt:__unload()
            ngx.sleep(0.2)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
truepolled: HELLO
answered: 20
live: 0
--- error_log
self-poll worker: queue unloaded, leaving



=== TEST 10: runtimes/nodejs/examples/http-client: Node's http client fans out to an upstream (a location of this nginx)
--- config
    location ~ ^/upstream/(\w+)$ {
        content_by_lua_block {
            ngx.sleep(0.05)
            ngx.print(string.rep(ngx.var[1], 3))
        }
    }
    location = /missing { return 404; }
    location = /t {
        content_by_lua_block {
            local rt = assert(node_load("$TEST_NGINX_NODE_EXAMPLES/http-client/client.js,init,"
                .. '{"base": "http://127.0.0.1:$TEST_NGINX_SERVER_PORT"}'))
            local ok, res = rt:fetch('{"paths": ["/upstream/a", "/upstream/bb", "/missing"]}')
            ngx.say(ok)
            -- JSON.stringify keeps the keys in insertion order: path, status, bytes, sha256.
            local pattern = '{"path":"(.-)","status":(%d+),"bytes":(%d+),"sha256":"(%x+)"}'
            for path, status, bytes, sha in res:gmatch(pattern) do
                if status == "200" then
                    ngx.say(path, " ", status, " ", bytes, " ", sha:sub(1, 16))
                else
                    ngx.say(path, " ", status)
                end
            end
            local down = assert(node_load("$TEST_NGINX_NODE_EXAMPLES/http-client/client.js,init,"
                .. '{"base": "http://127.0.0.1:1"}'))
            ok, res, err = down:fetch('{"paths": ["/x"]}')
            ngx.say(ok, " ", res, " ", err)
            ok, res, err = rt:fetch('not json')
            ngx.say(ok, " ", res)
            rt:__unload()
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
true
/upstream/a 200 3 9834876dcfb05cb1
/upstream/bb 200 6 4625fd63b0e96fc0
/missing 404
false -2 connect ECONNREFUSED 127.0.0.1:1
false -2
live: 0
--- error_log
http-client: upstream http://127.0.0.1:
http-client: unloaded, connections closed
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 11: nginx keeps its signals: its handlers are still installed after Node starts, every Node thread blocks them, SIGUSR1 still reopens the logs
--- config
    location = /t {
        content_by_lua_block {
            local bit = require "bit"
            -- HUP INT QUIT USR1 USR2 ALRM TERM CHLD WINCH IO: all below 32.
            local nginx_mask = 0
            for _, sig in ipairs({ 1, 2, 3, 10, 12, 14, 15, 17, 28, 29 }) do
                nginx_mask = bit.bor(nginx_mask, bit.lshift(1, sig - 1))
            end
            local function field(file, name)
                local f = assert(io.open(file))
                local text = f:read("*a")
                f:close()
                local hex = text:match(name .. ":%s*(%x+)")
                return bit.band(tonumber(hex:sub(-8), 16), nginx_mask)
            end
            local pid = ngx.worker.pid()
            local caught_before = field("/proc/self/status", "SigCgt")
            local rt = assert(t_node("behaviours.js,init"))
            ngx.say(select(2, rt:call("echo loaded")))
            ngx.say("nginx's handlers all installed before: ", caught_before == nginx_mask,
                    ", after: ", field("/proc/self/status", "SigCgt") == nginx_mask)
            local threads, blocking = 0, 0
            for tid in io.popen("ls /proc/" .. pid .. "/task"):read("*a"):gmatch("%d+") do
                if tonumber(tid) ~= pid then
                    threads = threads + 1
                    if field("/proc/" .. pid .. "/task/" .. tid .. "/status", "SigBlk") == nginx_mask then
                        blocking = blocking + 1
                    end
                end
            end
            ngx.say("other threads: ", threads >= 3, ", all block nginx's signals: ", blocking == threads)
            ngx.say("main thread blocks none: ", field("/proc/self/status", "SigBlk") == 0)
            os.execute("kill -USR1 " .. pid)
            ngx.sleep(0.1)
            ngx.say(select(2, rt:call("echo still serving")))
        }
    }
--- request
GET /t
--- response_body
loaded
nginx's handlers all installed before: true, after: true
other threads: true, all block nginx's signals: true
main thread blocks none: true
still serving
--- error_log
reopening logs



=== TEST 12: reload, reopen and quit of a two-worker nginx with Node loaded in each worker while wrk drives calls
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
--- config
    location = /t {
        content_by_lua_block {
            -- The harness (t/lib/inner_nginx.lua) starts, drives and signals an inner nginx.
            local inner_nginx = require "inner_nginx"
            local count = inner_nginx.count
            local conf = [[
$TEST_NGINX_LOAD_MODULE_LINES
user root;
worker_processes 2;
worker_shutdown_timeout 5s;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    init_worker_by_lua_block {
        require "resty_ffi"
        -- Node starts in every worker before any request.
        ngx.timer.at(0, function()
            local rt = assert(ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/behaviours.js,init"))
            ngx.log(ngx.NOTICE, "node up: ", select(2, rt:call("echo " .. ngx.worker.pid())))
        end)
    }
    server {
        listen 127.0.0.1:PORT reuseport;
        location = /call {
            content_by_lua_block {
                local rt = ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/behaviours.js,init")
                local ok, res = rt:call("later 200")
                ngx.say(ok and res or "failed")
            }
        }
    }
}
]]
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner", conf, 19983,
                                          "$TEST_NGINX_BINARY")

            assert(inner:start())
            ngx.say("node up in both workers: ", inner_nginx.wait_for(function()
                return count(inner:error_log(), "node up: %d+") == 2
            end))
            inner:wrk("/call", 16, 4)
            ngx.sleep(0.8)

            inner:signal("USR1")
            ngx.say("workers reopened their logs: ", inner_nginx.wait_for(function()
                return count(inner:error_log(), "%d+#%d+: reopening logs") >= 3
            end))

            -- Reload under load: the old workers finish their calls and exit.
            local old = inner:workers()
            inner:signal("HUP")
            ngx.say("old workers exited after reload: ", inner_nginx.wait_for(function()
                for _, pid in ipairs(old) do
                    if inner_nginx.alive(pid) then return false end
                end
                return true
            end))
            ngx.say("new workers with node: ", inner_nginx.wait_for(function()
                return count(inner:error_log(), "node up: %d+") == 4
            end))
            ngx.sleep(0.5)

            -- Quit under load.
            ngx.say("nginx stopped after quit: ", inner:stop("QUIT"))
            ngx.sleep(3)   -- let wrk end

            ngx.say("alerts, crashes: ", inner:alerts(true))
            ngx.say("workers exited cleanly: ",
                    count(inner:error_log(), "worker process %d+ exited with code 0"))
            ngx.say("wrk drove calls: ", inner:wrk_requests() > 50)
        }
    }
--- request
GET /t
--- response_body
node up in both workers: true
workers reopened their logs: true
old workers exited after reload: true
new workers with node: true
nginx stopped after quit: true
alerts, crashes: 0
workers exited cleanly: 4
wrk drove calls: true
--- timeout: 40



=== TEST 13: native addons find Node's symbols without is_global; unpin (dlclose on unload) cannot unmap Node
--- config
    location = /t {
        content_by_lua_block {
            local rt, err = ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/addon-user.js,init,$TEST_NGINX_NODE_ADDON",
                                         { unpin = true })
            if not rt then ngx.say(err) return end
            ngx.say(rt:call(""))
            rt:__unload()
            local again = assert(ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_EXAMPLES/echo/echo.js,init,still ",
                                              { unpin = true }))
            ngx.say(again:call("here"))
            again:__unload()
            ngx.sleep(0.05)
            local last = assert(t_node("behaviours.js,init"))
            ngx.say(last:call("echo and serving"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
truehello from a native addon
truestill here
trueand serving
live: 0



=== TEST 14: handlers that throw or reject with values that are not Errors (string, number, null, undefined, object, symbol, bigint), errors whose getters throw, poisoned proxies, odd thenables: each call answers false, rc, msg (rc -2, RC_PANICKED, unless the value has an rc of its own; -1 for a bad answer; or the thenable's value) and the runtime keeps serving
--- config
    location = /t {
        content_by_lua_block {
            local function show(...)
                local out = {}
                for i = 1, select("#", ...) do out[i] = tostring((select(i, ...))) end
                return table.concat(out, " | ")
            end
            local values = { "string", "number", "null", "undefined", "object", "symbol", "bigint",
                             "rc-object", "message-getter", "rc-getter", "proxy" }
            local sync_cmds, async_cmds = {}, {}
            for _, v in ipairs(values) do
                sync_cmds[#sync_cmds + 1] = "throw-" .. v
                async_cmds[#async_cmds + 1] = "throw-" .. v
                async_cmds[#async_cmds + 1] = "reject-" .. v
            end
            for _, c in ipairs({ "then-getter", "then-throws", "thenable", "constructor-getter",
                                 "return-proxy" }) do
                sync_cmds[#sync_cmds + 1] = c
            end
            for _, c in ipairs({ "constructor-getter", "return-proxy" }) do
                async_cmds[#async_cmds + 1] = c
            end
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/throwers.js," .. mode,
                                               { timeout = 2000 }))
                for _, cmd in ipairs(mode == "sync" and sync_cmds or async_cmds) do
                    ngx.say(mode, " ", cmd, ": ", show(rt:call(cmd)))
                    ngx.say(mode, " then: ", show(rt:call("echo ok")))
                end
            end
            for _, export in ipairs({ "initThrowsProxy", "initRejectsProxy", "initThrowsNull" }) do
                local rt, err = ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/throwers.js," .. export)
                err = err and err:gsub(("$TEST_NGINX_NODE_TESTS/"):gsub("%p", "%%%0"), "")
                ngx.say(export, ": ", tostring(rt), ": ", err)
            end
            local rt = assert(ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/throwers.js,uncaught"))
            for _, cmd in ipairs({ "timer-proxy", "reject-proxy", "timer-stack-getter" }) do
                ngx.say(cmd, ": ", show(rt:call(cmd)))
                ngx.sleep(0.05)
            end
            local echo = assert(ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/throwers.js,sync"))
            ngx.say("node still serving: ", show(echo:call("echo yes")))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- timeout: 60
--- response_body
sync throw-string: false | -2 | a plain string
sync then: true | ok
sync throw-number: false | -2 | 42
sync then: true | ok
sync throw-null: false | -2 | null
sync then: true | ok
sync throw-undefined: false | -2 | undefined
sync then: true | ok
sync throw-object: false | -2 | { code: 'E_OBJ', detail: [ 1, 2 ] }
sync then: true | ok
sync throw-symbol: false | -2 | Symbol(sym)
sync then: true | ok
sync throw-bigint: false | -2 | 10n
sync then: true | ok
sync throw-rc-object: false | 7 | { rc: 7, why: 'a plain object with an rc' }
sync then: true | ok
sync throw-message-getter: false | -2 | node: the handler threw a value that cannot be described
sync then: true | ok
sync throw-rc-getter: false | -2 | rc getter
sync then: true | ok
sync throw-proxy: false | -2 | node: the handler threw a value that cannot be described
sync then: true | ok
sync then-getter: false | -2 | then getter
sync then: true | ok
sync then-throws: false | -2 | then threw
sync then: true | ok
sync thenable: true | thenable resolved
sync then: true | ok
sync constructor-getter: false | -1 | node: the handler returned an object: a Buffer, a typed array, a string, null or undefined expected
sync then: true | ok
sync return-proxy: false | -2 | poisoned proxy
sync then: true | ok
async throw-string: false | -2 | a plain string
async then: true | ok
async reject-string: false | -2 | a plain string
async then: true | ok
async throw-number: false | -2 | 42
async then: true | ok
async reject-number: false | -2 | 42
async then: true | ok
async throw-null: false | -2 | null
async then: true | ok
async reject-null: false | -2 | null
async then: true | ok
async throw-undefined: false | -2 | undefined
async then: true | ok
async reject-undefined: false | -2 | undefined
async then: true | ok
async throw-object: false | -2 | { code: 'E_OBJ', detail: [ 1, 2 ] }
async then: true | ok
async reject-object: false | -2 | { code: 'E_OBJ', detail: [ 1, 2 ] }
async then: true | ok
async throw-symbol: false | -2 | Symbol(sym)
async then: true | ok
async reject-symbol: false | -2 | Symbol(sym)
async then: true | ok
async throw-bigint: false | -2 | 10n
async then: true | ok
async reject-bigint: false | -2 | 10n
async then: true | ok
async throw-rc-object: false | 7 | { rc: 7, why: 'a plain object with an rc' }
async then: true | ok
async reject-rc-object: false | 7 | { rc: 7, why: 'a plain object with an rc' }
async then: true | ok
async throw-message-getter: false | -2 | node: the handler threw a value that cannot be described
async then: true | ok
async reject-message-getter: false | -2 | node: the handler threw a value that cannot be described
async then: true | ok
async throw-rc-getter: false | -2 | rc getter
async then: true | ok
async reject-rc-getter: false | -2 | rc getter
async then: true | ok
async throw-proxy: false | -2 | node: the handler threw a value that cannot be described
async then: true | ok
async reject-proxy: false | -2 | node: the handler threw a value that cannot be described
async then: true | ok
async constructor-getter: false | -1 | node: the handler returned an object: a Buffer, a typed array, a string, null or undefined expected
async then: true | ok
async return-proxy: false | -2 | poisoned proxy
async then: true | ok
initThrowsProxy: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: throwers.js: a thrown value that cannot be described
initRejectsProxy: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: throwers.js: a thrown value that cannot be described
initThrowsNull: nil: libffi_init of libffi_nodejs.so failed: rc=1: ffi_nodejs: throwers.js: null
timer-proxy: true | scheduled
reject-proxy: true | scheduled
timer-stack-getter: true | scheduled
node still serving: true | yes
live: 0
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] ffi_nodejs: .*throwers.js: a thrown value that cannot be described/,
qr/\[error\] .*\[resty_ffi\] node: uncaught exception: a thrown value that cannot be described/,
qr/\[error\] .*\[resty_ffi\] node: uncaught exception: Error: poisoned proxy/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 15: deadlines: the handler's second argument has the call's deadline (performance.now() ms) and timeLeft(); none without a timeout
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = assert(t_node("cancel.js,init"))
            local left = tonumber(select(2, rt:call("deadline", { timeout = 5000 })))
            ngx.say("5 s timeout: deadline in 4..5 s: ", left > 4000 and left <= 5000)
            ngx.say("performance.now() clock: ", select(2, rt:call("clock", { timeout = 5000 })))
            resty_ffi.set_default_timeout(0)
            ngx.say("no timeout: ", select(2, rt:call("deadline")))
            resty_ffi.set_default_timeout(60000)
        }
    }
--- request
GET /t
--- timeout: 20
--- response_body
5 s timeout: deadline in 4..5 s: true
performance.now() clock: same
no timeout: none



=== TEST 16: a timeout aborts the call's AbortSignal (timers/promises and an 'abort' listener) and call.cancelled turns true; the runtime goes on
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(t_node("cancel.js,init"))
            -- Served once first: a call that times out while still queued never reaches JS.
            rt:call("seen")
            local t0 = ngx.now()
            ngx.say("wait: ", rt:call("wait 5000", { timeout = 100 }))
            ngx.say("wait: ", wait_for_seen(rt, 1))
            ngx.say("listen: ", rt:call("listen 5000", { timeout = 100 }))
            ngx.say("listen: ", wait_for_seen(rt, 2))
            ngx.say("then: ", rt:call("wait 10"))
            ngx.update_time()
            ngx.say("well before the handlers' own 5 s: ", ngx.now() - t0 < 3)
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- timeout: 20
--- response_body
wait: falsetimeout
wait: aborted=1 flagged=1
listen: falsetimeout
listen: aborted=2 flagged=2
then: truenot cancelled
well before the handlers' own 5 s: true
live: 0
--- no_error_log
[error]
[alert]
[crit]
dropped



=== TEST 17: a client abort (lua_check_client_abort on) aborts the call's AbortSignal
--- config
    location = /wait {
        lua_check_client_abort on;
        content_by_lua_block {
            t_node("cancel.js,init"):call("wait 5000")
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = assert(t_node("cancel.js,init"))
            rt:call("seen")
            abort_after("/wait", 100)
            ngx.say(wait_for_seen(rt, 1))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- timeout: 20
--- response_body
aborted=1 flagged=1
live: 0
--- error_log
client prematurely closed connection
--- no_error_log
[alert]
[crit]
dropped



=== TEST 18: examples/nodejs/http-client: when the caller gives up, the upstream request is aborted (its connection closed at once)
--- http_config eval
$::HttpConfig . q{
    lua_shared_dict upstream 1m;
}
--- config
    location = /slow {
        lua_check_client_abort on;
        content_by_lua_block {
            ngx.shared.upstream:incr("started", 1, 0)
            ngx.on_abort(function()
                ngx.shared.upstream:incr("gone", 1, 0)
                ngx.exit(499)
            end)
            ngx.sleep(5)
            ngx.say("too late")
        }
    }
    location = /missing { return 404; }
    location = /t {
        content_by_lua_block {
            local rt = assert(node_load("$TEST_NGINX_NODE_EXAMPLES/http-client/client.js,init,"
                .. '{"base": "http://127.0.0.1:$TEST_NGINX_SERVER_PORT", "timeout_ms": 10000}'))
            -- A first call warms up Node's http client (and connects).
            local ok, res = rt:fetch('{"paths": ["/missing"]}')
            ngx.say(ok, " ", res:match('"status":%d+'))
            ngx.say(rt:fetch('{"paths": ["/slow", "/slow"]}', { timeout = 300 }))
            local up = ngx.shared.upstream
            for _ = 1, 400 do
                if up:get("gone") == 2 then break end
                ngx.sleep(0.005)
            end
            ngx.say("upstream requests started: ", up:get("started"), ", gone: ", up:get("gone"))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- timeout: 20
--- response_body
true "status":404
falsetimeout
upstream requests started: 2, gone: 2
live: 0
--- no_error_log
[alert]
[crit]
dropped



=== TEST 19: ngx.exit, the end of a timer and a killed light thread abort the call's AbortSignal
--- config
    location = /exit {
        content_by_lua_block {
            local rt = t_node("cancel.js,init")
            ngx.thread.spawn(function() rt:call("wait 5000") end)
            ngx.sleep(0.02)
            ngx.exit(200)
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = assert(t_node("cancel.js,init"))
            rt:call("seen")
            -- ngx.exit while a light thread waits (a request of its own) ...
            abort_after("/exit", 200)
            ngx.say("ngx.exit: ", wait_for_seen(rt, 1))
            -- ... a timer that ends while its light thread waits ('abort' listener) ...
            ngx.timer.at(0, function()
                ngx.thread.spawn(function() rt:call("listen 5000") end)
                ngx.sleep(0.02)
                ngx.exit(0)
            end)
            ngx.say("timer end: ", wait_for_seen(rt, 2))
            -- ... and a light thread killed while the request goes on (found within 100 ms).
            local th = ngx.thread.spawn(function() return rt:call("wait 5000") end)
            ngx.sleep(0.02)
            ngx.say("killed: ", ngx.thread.kill(th))
            ngx.say("killed: ", wait_for_seen(rt, 3))
            ngx.say("then: ", rt:call("wait 10"))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- timeout: 20
--- response_body
ngx.exit: aborted=1 flagged=1
timer end: aborted=2 flagged=2
killed: 1
killed: aborted=3 flagged=3
then: truenot cancelled
live: 0
--- no_error_log
[error]
[alert]
[crit]
dropped



=== TEST 20: the worker's exit deadline (reload, worker_shutdown_timeout 1s) aborts the call's AbortSignal; the 'abort' listener's mark in a shared dict outlives the worker, and Node does not keep the old worker
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
--- config
    location = /t {
        content_by_lua_block {
            -- t/lib/exit_cancel.lua: an inner nginx reloaded while a timer's call waits in
            -- cancel.js's listen_mark; how long after the exit deadline 'abort' ran is logged.
            local lines = require("exit_cancel").run({
                name = "nodejs", port = 20334, dir = ngx.config.prefix() .. "html/inner-exit",
                binary = "$TEST_NGINX_BINARY", modules = "$TEST_NGINX_LOAD_MODULE_LINES",
                lua_dir = "$TEST_NGINX_LUA_DIR",
                calls = {
                    { key = "abort", lib = "$TEST_NGINX_LIB_DIR/libffi_nodejs.so",
                      cfg = "$TEST_NGINX_NODE_TESTS/cancel.js,init",
                      req = "listen_mark marks abort 30000" },
                },
            })
            for _, line in ipairs(lines) do ngx.say(line) end
        }
    }
--- request
GET /t
--- response_body
the runtime holds the calls: true
marks before the reload: abort nil nil; 
old worker exited after the reload: true
the new worker reads abort: marked
nginx stopped after quit: true
exit notice: true
abort: timer call ended: 1, the exiting worker saw the mark: 1
old worker exited with code 0: 1
alerts, errors, crashes: 0
--- error_log eval
qr/worker exit: nodejs abort: noticed -?\d+\.\d+ ms after the Lua call ended/
--- timeout: 30
