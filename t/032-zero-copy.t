# vim:set ft= ts=4 sw=4 et fdm=marker:
# Zero-copy requests: a large request is lent (the runtime reads the Lua string in place) and
# the string lives until the task is freed, however long after its caller stopped waiting.
# `late_sum MS ...` reads its request again MS ms after it was taken and keeps its size,
# CRC-32 and NUL byte for `late_log`; each test drops every reference to the string, runs a
# full collectgarbage() cycle and allocates strings of the same size before the late read.

use lib '.';
use t::TestFFI 'no_plan';

our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    init_worker_by_lua_block { require "resty_ffi" }
    init_by_lua_block {
        -- 100 KB that no other string in the tests equals.
        function zc_payload(tag)
            local parts = {}
            for i = 1, 1024 do
                parts[i] = string.format("%s:%05d:%s", tag, i, string.rep("z", 90 - #tag))
            end
            return table.concat(parts)
        end
        -- What late_sum reports for a request.
        function zc_expect(req)
            return string.format("len=%d crc=%d nul=1", #req, ngx.crc32_long(req))
        end
        -- Frees what can be freed and reuses the memory for strings of the same size.
        function zc_churn()
            collectgarbage("collect")
            collectgarbage("collect")
            local junk = {}
            for i = 1, 64 do
                junk[i] = string.rep(string.char(64 + i % 26), 102400 + 14 + i % 3)
            end
            junk = nil
            collectgarbage("collect")
        end
        -- Waits (up to 2 s) until every task is freed and every lent string let go of.
        function zc_drained()
            local resty_ffi = require "resty.ffi"
            for _ = 1, 200 do
                local anchored, lent = resty_ffi.lent()
                if anchored == 0 and lent == 0 and resty_ffi.live_tasks() == 0 then
                    break
                end
                ngx.sleep(0.01)
            end
            local anchored, lent = resty_ffi.lent()
            return string.format("anchored %d, lent %d, live %d", anchored, lent,
                                 resty_ffi.live_tasks())
        end
        -- late_log's lines, each checked against what was sent.
        function zc_check(rt, reqs)
            local _, log = rt:call("late_log")
            local want = {}
            for i, req in ipairs(reqs) do
                want[i] = zc_expect(req)
            end
            table.sort(want)
            local got = {}
            for line in string.gmatch(log or "", "[^\n]+") do
                got[#got + 1] = line
            end
            table.sort(got)
            return table.concat(got, "|") == table.concat(want, "|") and "intact"
                   or ("got " .. tostring(log))
        end
    }
_EOC_

worker_connections(1024);
no_long_string();
run_tests();

__DATA__

=== TEST 1: a large request is lent, a small one copied; both read intact, NUL-terminated
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = ngx.load_ffi("ffi_test", "zc1")
            local big = "late_sum 0 " .. zc_payload("t1")
            local small = "late_sum 0 " .. string.rep("s", 500)
            ngx.say(select(2, rt:call(big)) == zc_expect(big))
            ngx.say(select(2, rt:call(small)) == zc_expect(small))
            rt:call("late_log")
            -- In flight: the big one lent, the small one not.
            local th = ngx.thread.spawn(function() return rt:call("late_sum 100 " .. zc_payload("t1b")) end)
            ngx.say("lent in flight: ", select(2, resty_ffi.lent()))
            ngx.thread.wait(th)
            th = ngx.thread.spawn(function() return rt:call("late_sum 100 " .. string.rep("s", 1500)) end)
            ngx.say("small in flight: ", select(2, resty_ffi.lent()))
            ngx.thread.wait(th)
            ngx.say(select(2, rt:call("echo " .. zc_payload("t1c"))) == zc_payload("t1c"))
            ngx.say(zc_drained())
        }
    }
--- request
GET /t
--- response_body
true
true
lent in flight: 1
small in flight: 0
true
anchored 0, lent 0, live 0
--- no_error_log
[error]
[alert]



=== TEST 2: a call times out; the runtime reads the request after a full GC cycle and answers late
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = ngx.load_ffi("ffi_test", "zc2")
            local sent = {}
            for i = 1, 3 do
                local req = "late_sum 600 " .. zc_payload("t2-" .. i)
                sent[i] = zc_expect(req)
                -- (A timeout while the call is still queued would cancel it: the runtime
                -- would never see it. 100 ms leaves a slow machine time to take it.)
                ngx.say(rt:call(req, { timeout = 100 }))
            end
            zc_churn()
            ngx.say("anchored, lent while late: ", resty_ffi.lent())
            ngx.sleep(0.8)
            zc_churn()
            local _, log = rt:call("late_log")
            local got = {}
            for line in log:gmatch("[^\n]+") do got[#got + 1] = line end
            table.sort(got)
            table.sort(sent)
            ngx.say(table.concat(got, "|") == table.concat(sent, "|") and "intact" or log)
            ngx.say(zc_drained())
        }
    }
--- request
GET /t
--- response_body
falsetimeout
falsetimeout
falsetimeout
anchored, lent while late: 33
intact
anchored 0, lent 0, live 0
--- no_error_log
[alert]



=== TEST 3: a client abort with a lent request in flight
--- config
    lua_check_client_abort on;
    location = /slow {
        content_by_lua_block {
            ngx.load_ffi("ffi_test", "zc3"):call("late_sum 600 " .. zc_payload("t3"))
            ngx.log(ngx.ERR, "must not be reached")
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "zc3")
            require("test_helpers").abort_after("/slow", 150)
            zc_churn()
            ngx.sleep(0.8)
            zc_churn()
            ngx.say(zc_check(rt, { "late_sum 600 " .. zc_payload("t3") }))
            ngx.say(zc_drained())
        }
    }
--- request
GET /t
--- response_body
intact
anchored 0, lent 0, live 0
--- error_log
client prematurely closed connection
--- no_error_log
must not be reached
[alert]



=== TEST 4: ngx.exit while light threads wait on lent requests
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "zc4")
            for i = 1, 5 do
                ngx.thread.spawn(function() rt:call("late_sum 600 " .. zc_payload("t4-" .. i)) end)
            end
            -- Let the runtime take them (a call still queued is cancelled, never handed out).
            ngx.sleep(0.15)
            ngx.say("exiting with 5 calls in flight")
            ngx.exit(200)
        }
    }
    location = /check {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "zc4")
            zc_churn()
            ngx.sleep(0.8)
            zc_churn()
            local sent = {}
            for i = 1, 5 do sent[i] = "late_sum 600 " .. zc_payload("t4-" .. i) end
            ngx.say(zc_check(rt, sent))
            ngx.say(zc_drained())
        }
    }
--- request eval
["GET /t", "GET /check"]
--- response_body eval
["exiting with 5 calls in flight\n", "intact\nanchored 0, lent 0, live 0\n"]
--- no_error_log
[alert]



=== TEST 5: a killed light thread's lent request outlives the thread and a GC cycle
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "zc5")
            local th = ngx.thread.spawn(function()
                return rt:call("late_sum 600 " .. zc_payload("t5"))
            end)
            -- Once the runtime took it (a killed thread's call still queued is cancelled).
            ngx.sleep(0.15)
            ngx.thread.kill(th)
            th = nil
            zc_churn()
            ngx.sleep(0.8)
            zc_churn()
            ngx.say(zc_check(rt, { "late_sum 600 " .. zc_payload("t5") }))
        }
    }
    location = /check {
        content_by_lua_block {
            ngx.say(zc_drained())
        }
    }
--- request eval
["GET /t", "GET /check"]
--- response_body eval
["intact\n", "anchored 0, lent 0, live 0\n"]
--- no_error_log
[alert]



=== TEST 6: unload with lent requests taken and queued: each is read intact after the unload
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "zc6")
            local sent, threads = {}, {}
            for i = 1, 8 do
                sent[i] = "late_sum 600 " .. zc_payload("t6-" .. i)
                threads[i] = ngx.thread.spawn(function()
                    return rt:call("late_sum 600 " .. zc_payload("t6-" .. i), { timeout = 100 })
                end)
            end
            rt:__unload()
            for i = 1, 8 do ngx.thread.wait(threads[i]) end
            threads = nil
            zc_churn()
            ngx.sleep(0.8)
            zc_churn()
            -- The library stays loaded (another cfg): late_log reads the same record.
            ngx.say(zc_check(ngx.load_ffi("ffi_test", "zc6-log"), sent))
            ngx.say(zc_drained())
        }
    }
--- request
GET /t
--- response_body
intact
anchored 0, lent 0, live 0
--- no_error_log
[alert]



=== TEST 7: a stream call lends its request; a reader that times out leaves it to the runtime
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "zc7")
            local req = "late_sum 0 " .. zc_payload("t7")
            local s = assert(rt:stream_sum(req))
            ngx.say(s:read() == zc_expect(req), " ", select(2, s:read()))
            rt:call("late_log")
            s = assert(rt:stream_sum("late_sum 600 " .. zc_payload("t7b"), { timeout = 100 }))
            ngx.say(s:read())
            s = nil
            zc_churn()
            ngx.sleep(0.8)
            zc_churn()
            ngx.say(zc_check(rt, { "late_sum 600 " .. zc_payload("t7b") }))
            ngx.say(zc_drained())
        }
    }
--- request
GET /t
--- response_body
true eof
niltimeout
intact
anchored 0, lent 0, live 0
--- no_error_log
[alert]



=== TEST 8: lua_code_cache off: a request's own VM does not lend; its late request is read intact after the VM closed
--- config
    location = /t {
        lua_code_cache off;
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = assert(resty_ffi.load("ffi_test", "zc8"))
            local n = tonumber(ngx.var.arg_n)
            local th = ngx.thread.spawn(function()
                return rt:call("late_sum 600 " .. zc_payload("t8-" .. n), { timeout = 100 })
            end)
            ngx.say("lent: ", select(2, resty_ffi.lent()), " ", select(3, ngx.thread.wait(th)))
        }
    }
    location = /check {
        content_by_lua_block {
            local rt = require("resty.ffi").load("ffi_test", "zc8")
            zc_churn()
            ngx.sleep(0.8)
            zc_churn()
            ngx.say(zc_check(rt, { "late_sum 600 " .. zc_payload("t8-1"),
                                   "late_sum 600 " .. zc_payload("t8-2") }))
            ngx.say(zc_drained())
        }
    }
--- request eval
["GET /t?n=1", "GET /t?n=2", "GET /check"]
--- response_body eval
["lent: 0 timeout\n", "lent: 0 timeout\n", "intact\nanchored 0, lent 0, live 0\n"]
--- no_error_log
[error]
[crit]
[emerg]
exited on signal



=== TEST 9: thousands of large calls, some timed out: every anchor let go of, worker RSS flat
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "zc9")
            local function rss_kb()
                local f = io.open("/proc/self/statm")
                local pages = tonumber(f:read("*a"):match("^%d+%s+(%d+)"))
                f:close()
                return pages * 4
            end
            local payload = zc_payload("t9")
            local function round(n)
                local threads = {}
                for i = 1, n do
                    -- Distinct strings (a new 100 KB string per call), 4 calls in flight.
                    local req = "echo " .. i .. payload
                    local ok, res = rt:call(req)
                    if not ok or res ~= i .. payload then
                        return "bad answer " .. i
                    end
                    if i % 10 == 0 then
                        -- And a timed-out call whose late answer frees the task.
                        rt:call("late_sum 5 " .. i .. payload, { timeout = 1 })
                    end
                end
                rt:call("late_log")
                return "ok"
            end
            ngx.say(round(1000))
            ngx.say(zc_drained())
            collectgarbage("collect")
            local before = rss_kb()
            for _ = 1, 4 do
                ngx.say(round(1000))
            end
            ngx.say(zc_drained())
            rt:call("late_log")
            collectgarbage("collect")
            local grown = rss_kb() - before
            ngx.log(ngx.INFO, "zero-copy RSS: before ", before, " kB, grown ", grown, " kB")
            ngx.say(grown < 16 * 1024 and "rss flat" or ("rss grew " .. grown .. " kB"))
        }
    }
--- request
GET /t
--- response_body
ok
anchored 0, lent 0, live 0
ok
ok
ok
ok
anchored 0, lent 0, live 0
rss flat
--- timeout: 60
--- no_error_log
[alert]



=== TEST 10: the worker exits while a runtime still reads a lent request: the Lua VM is left open, no crash
--- config
    location = /t {
        content_by_lua_block {
            local inner_nginx = require "inner_nginx"
            local conf = [[
$TEST_NGINX_LOAD_MODULE_LINES
user root;
worker_processes 1;
worker_shutdown_timeout 300ms;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block { require "resty_ffi" }
    server {
        listen 127.0.0.1:PORT;
        location = /read {
            content_by_lua_block {
                local rt = ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_test.so", "zc10")
                local before = tonumber(select(2, rt:call("handled")))
                -- The runtime reads the request again and again for 20 s, whatever happens;
                -- 40 MiB: memory the allocator maps for it alone and unmaps when it is freed.
                local th = ngx.thread.spawn(function()
                    return rt:call("reread 20000 " .. string.rep("r", 40 * 2^20))
                end)
                -- Once the runtime holds it (handle counts it, then this call), leave it there.
                for _ = 1, 500 do
                    if tonumber(select(2, rt:call("handled"))) >= before + 2 then break end
                    ngx.sleep(0.01)
                end
                ngx.thread.kill(th)
                ngx.say("lent: ", select(2, require("resty.ffi").lent()))
            }
        }
    }
}
]]
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner", conf, 20360, "$TEST_NGINX_BINARY")
            assert(inner:start())
            ngx.sleep(0.3)
            ngx.say(inner_nginx.sh("curl -s -m 5 http://127.0.0.1:20360/read"))
            ngx.say("nginx stopped after quit: ", inner:stop("QUIT"))
            local log = inner:error_log()
            ngx.say("VM left open: ", log:find("1 lent request%(s%) still out at exit: the Lua VM is left to the process exit") ~= nil)
            ngx.say("alerts, crashes: ", inner:alerts())
            ngx.say("worker exited cleanly: ", inner_nginx.count(log, "worker process %d+ exited with code 0"))
        }
    }
--- request
GET /t
--- response_body
lent: 1

nginx stopped after quit: true
VM left open: true
alerts, crashes: 0
worker exited cleanly: 1
--- timeout: 30



=== TEST 11: a stream with a lent request dropped unread: the GC closes it and the string is let go of
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = ngx.load_ffi("ffi_test", "zc11")
            -- Answered before the GC closes it (the finalizer finishes the task itself),
            -- and still in the runtime's hands (the module frees it when the answer comes).
            local s1 = assert(rt:stream_sum("late_sum 0 " .. zc_payload("t11a")))
            local s2 = assert(rt:stream_sum("late_sum 300 " .. zc_payload("t11b")))
            ngx.sleep(0.1)
            ngx.say("anchored, lent: ", resty_ffi.lent())
            s1, s2 = nil, nil
            zc_churn()
            ngx.sleep(0.5)
            zc_churn()
            ngx.say(zc_check(rt, { "late_sum 0 " .. zc_payload("t11a"),
                                   "late_sum 300 " .. zc_payload("t11b") }))
            ngx.say(zc_drained())
        }
    }
--- request
GET /t
--- response_body
anchored, lent: 22
intact
anchored 0, lent 0, live 0
--- no_error_log
[error]
[alert]
