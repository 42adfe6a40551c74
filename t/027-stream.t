# vim:set ft= ts=4 sw=4 et fdm=marker:
# Streams: rt:stream_anyname(req) reads a runtime's answer in chunks, in order and byte-exact,
# with a bounded window (the runtime's send waits), an end that is the runtime's answer, and
# cancellation that reaches the runtime when the reader stops (close, timeout, client abort,
# the worker exiting).

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block {
        require "resty_ffi"
        function chunk_of(i, size)
            local c = i .. ":"
            local t = { c }
            local n = #c
            while n < size do
                t[#t + 1] = string.char(97 + n % 26)
                n = n + 1
            end
            return table.concat(t):sub(1, size)
        end
        function rss_kb()
            for line in io.lines("/proc/self/status") do
                local kb = line:match("^VmRSS:%s+(%d+)")
                if kb then return tonumber(kb) end
            end
        end
    }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: chunks arrive in order and byte-exact; the answer's bytes end the stream
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local s = assert(rt:stream_data("stream 200 1000"))
            local n, bad = 0, 0
            for chunk in s:chunks() do
                if n < 200 then
                    if chunk ~= chunk_of(n, 1000) then bad = bad + 1 end
                else
                    ngx.say("last: ", chunk)
                end
                n = n + 1
            end
            ngx.say("chunks: ", n, " bad: ", bad, " end: ", s.err)
            ngx.say(s:read())
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
last: end
chunks: 201 bad: 0 end: eof
nileof
live: 0



=== TEST 2: a runtime error ends the stream with its rc and message; a plain call is not a stream
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local s = rt:stream_x("stream_fail 2")
            ngx.say(s:read())
            ngx.say(s:read())
            ngx.say(s:read())
            ngx.say(s:read())
            ngx.say(rt:call("stream 1 1"))
        }
    }
--- request
GET /t
--- response_body
0:cdefgh
1:cdefgh
nil7went wrong
nil7
false22not a stream call



=== TEST 3: 1 GiB through one stream: the window holds (worker RSS flat), the runtime's send waits
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local before = rss_kb()
            local s = rt:stream_big("stream_total 1073741824 65536", { window = 262144 })
            local bytes, last, peak = 0, nil, before
            local i = 0
            while true do
                local chunk, err = s:read()
                if not chunk then break end
                if chunk:sub(1, 7) == "waited=" then
                    last = chunk
                else
                    bytes = bytes + #chunk
                end
                i = i + 1
                if i % 1024 == 0 then
                    local now = rss_kb()
                    if now > peak then peak = now end
                end
            end
            ngx.say("bytes: ", bytes, " end: ", s.err)
            ngx.say("the runtime waited for room: ", tonumber((last or "-1"):match("%-?%d+")) > 0)
            ngx.say("RSS grew less than 32 MB: ", peak - before < 32768)
        }
    }
--- request
GET /t
--- response_body
bytes: 1073741824 end: eof
the runtime waited for room: true
RSS grew less than 32 MB: true
--- timeout: 120



=== TEST 4: close() and a read timeout stop the runtime's sends; reads after close say so
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local s = rt:stream_forever("stream_until_cancel 100")
            ngx.say(#s:read())
            ngx.say(s:close())
            ngx.say(s:read())
            s = rt:stream_slow("stream_slow 300", { timeout = 50 })
            ngx.say(s:read())
            ngx.say(s:read())
            for _ = 1, 200 do
                if select(2, rt:call("streams_cancelled")) == "2" then break end
                ngx.sleep(0.01)
            end
            ngx.say("cancelled seen by the runtime: ", select(2, rt:call("streams_cancelled")))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
100
true
nilclosed
first
niltimeout
cancelled seen by the runtime: 2
live: 0



=== TEST 5: a client that goes away mid-stream: everything freed, the runtime told
--- config
    location = /sse {
        lua_check_client_abort on;
        content_by_lua_block {
            local s = ngx.load_ffi("ffi_test"):stream_events("stream_until_cancel 20")
            for chunk in s:chunks() do
                ngx.print("data: ", chunk, "\n\n")
                ngx.flush(true)
            end
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", ngx.var.server_port))
            assert(sock:send("GET /sse HTTP/1.1\r\nHost: localhost\r\n\r\n"))
            local line = sock:receive("*l")
            ngx.say("status: ", line)
            ngx.sleep(0.05)
            sock:close()
            for _ = 1, 200 do
                if select(2, rt:call("streams_cancelled")) == "1" then break end
                ngx.sleep(0.01)
            end
            ngx.say("cancelled seen by the runtime: ", select(2, rt:call("streams_cancelled")))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
status: HTTP/1.1 200 OK
cancelled seen by the runtime: 1
live: 0
--- no_error_log
[alert]
[crit]



=== TEST 6: 1000 streams at once, each in its own light thread, each byte-exact
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local function one(k)
                local s = rt:stream_n("stream 10 " .. (64 + k % 64), { window = 256 })
                local i, bad = 0, 0
                for chunk in s:chunks() do
                    if i < 10 and chunk ~= chunk_of(i, 64 + k % 64) then bad = bad + 1 end
                    i = i + 1
                end
                if not (i == 11 and bad == 0 and s.err == "eof") then
                    ngx.log(ngx.WARN, "stream ", k, ": ", i, " chunks, bad ", bad, ", err ", tostring(s.err))
                    return false
                end
                return true
            end
            local threads = {}
            for k = 1, 1000 do
                threads[k] = ngx.thread.spawn(one, k)
            end
            local good = 0
            for k = 1, 1000 do
                local _, ok = ngx.thread.wait(threads[k])
                if ok then good = good + 1 end
            end
            ngx.say("good streams: ", good)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
good streams: 1000
live: 0
--- timeout: 60



=== TEST 7: a stream open while its runtime is unloaded reads to its end
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "unload-me")
            local s = rt:stream_a("stream 20 100")
            ngx.say(#s:read())
            rt:__unload()
            local n = 1
            for _ in s:chunks() do n = n + 1 end
            ngx.say("chunks: ", n, " end: ", s.err)
            ngx.say(rt:stream_b("stream 1 1"))
        }
    }
--- request
GET /t
--- response_body
100
chunks: 21 end: eof
nilruntime unloaded



=== TEST 8: the worker exits with a stream open: the reader ends with "worker exiting", the runtime's send sees the cancellation (a mark that outlives the worker)
--- http_config eval
$::HttpConfig . q{
    init_by_lua_block {
        -- The inner nginx: one worker; its first timer reads a stream that only a
        -- cancellation ends, and the runtime marks the cancellation in a shared dict (the
        -- zone outlives the worker across a reload).
        package.loaded.inner_conf = [[
$TEST_NGINX_LOAD_MODULE_LINES
user root;
worker_processes 1;
worker_shutdown_timeout 1s;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict marks 1m;
    init_worker_by_lua_block {
        require "resty_ffi"
        if not ngx.shared.marks:add("started", true) then
            return
        end
        ngx.timer.at(0, function()
            local rt = ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_test.so")
            local s = rt:stream_x("stream_until_cancel_mark marks exit 100")
            local n = 0
            while true do
                local chunk, err = s:read()
                if not chunk then
                    ngx.log(ngx.NOTICE, "stream ended: ", tostring(err), " after ", n > 0 and "chunks" or "none")
                    break
                end
                n = n + 1
                ngx.shared.marks:set("read", n)
            end
            -- Keeps the exiting worker alive until the runtime's send has seen the
            -- cancellation and marked it (it sends every ms).
            for _ = 1, 500 do
                if ngx.shared.marks:get("exit") then break end
                ngx.sleep(0.01)
            end
            ngx.log(ngx.NOTICE, "the exiting worker sees the mark: ", tostring(ngx.shared.marks:get("exit")))
        end)
    }
    server {
        listen 127.0.0.1:PORT reuseport;
        location = /read {
            content_by_lua_block { ngx.print(ngx.shared.marks:get("read") or 0) }
        }
        location = /mark {
            content_by_lua_block { ngx.print("exit=", tostring(ngx.shared.marks:get("exit"))) }
        }
    }
}
]]
    }
}
--- config
    location = /t {
        content_by_lua_block {
            package.path = "$TEST_NGINX_LUA_DIR/../t/lib/?.lua;" .. package.path
            local inner_nginx = require "inner_nginx"
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner-stream-exit",
                                          package.loaded.inner_conf, 20317, "$TEST_NGINX_BINARY")
            assert(inner:start())
            local function get(path)
                return inner_nginx.sh("curl -s -m 5 http://127.0.0.1:20317" .. path)
            end
            ngx.say("the stream is flowing: ", inner_nginx.wait_for(function()
                return (tonumber(get("/read")) or 0) > 10
            end))
            ngx.say("before the reload: ", get("/mark"))
            local old = inner:workers()
            inner:signal("HUP")
            ngx.say("old worker exited after reload: ", inner_nginx.wait_for(function()
                return not inner_nginx.alive(old[1])
            end, 100))
            ngx.say("the new worker reads: ", get("/mark"))
            ngx.say("nginx stopped after quit: ", inner:stop("QUIT"))
            local log = inner:error_log()
            ngx.say("exit notice: ", log:find("worker exiting, %d+ call%(s%) in flight end in 1000 ms") ~= nil)
            ngx.say("stream ended: ", inner_nginx.count(log, "stream ended: worker exiting after chunks"))
            ngx.say("the exiting worker saw the mark: ", inner_nginx.count(log, "the exiting worker sees the mark: 1"))
            ngx.say("alerts, crashes: ", inner:alerts())
        }
    }
--- request
GET /t
--- response_body
the stream is flowing: true
before the reload: exit=nil
old worker exited after reload: true
the new worker reads: exit=1
nginx stopped after quit: true
exit notice: true
stream ended: 1
the exiting worker saw the mark: 1
alerts, crashes: 0
--- timeout: 30



=== TEST 9: a misbehaving runtime: sends on a plain call are refused, and a send after the stream's answer delivers nothing
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            ngx.say(select(2, rt:call("send_misuse")))
            local s = rt:stream_x("stream_then_send")
            local got = {}
            for chunk in s:chunks() do got[#got + 1] = chunk end
            ngx.say(table.concat(got, ","), " ", s.err)
            ngx.sleep(0.05)
            ngx.say("late send: ", select(2, rt:call("late_send")))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
send=-1 try_send=-1
one,end eof
late send: Some(-1)
live: 0
