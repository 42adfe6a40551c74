# vim:set ft= ts=4 sw=4 et fdm=marker:
# Streams in the SDKs and loaders: handlers that send chunks (Rust: ChunkSender /
# Task::stream_send, on the thread pool, on tokio and by hand; Go: StreamWriter; Python and
# Node.js: generators; Java: Task.output()), in order; an error end; s:close() seen by the
# handler; the SSE example (runtimes/go/examples/tokens).

use lib '.';
use t::TestFFI 'no_plan';

our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
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
        -- Reads a whole stream: "chunks=N bad=B last=L end=E" against chunk_of(i, size).
        function read_all(s, size)
            local n, bad, last = 0, 0, nil
            while true do
                local chunk, err, msg = s:read()
                if not chunk then
                    return string.format("chunks=%d bad=%d last=%s end=%s%s", n, bad,
                                         tostring(last), tostring(err), msg and (" " .. msg) or "")
                end
                if chunk == chunk_of(n, size) then n = n + 1 else bad = bad + 1; last = chunk end
            end
        end
        -- Calls rt:call(cmd) until it answers `want` (for up to 2 s); returns its last answer.
        wait_for_answer = require("test_helpers").wait_for_answer
    }
_EOC_

# Every block's main_config: the Java runtimes' class path and options (runtimes/java/test-env.sh).
our $MainConfig = <<'_EOC_';
    env CLASSPATH;
    env JAVA_OPTS;
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: Rust SDK: chunks in order and byte-exact, the reply's bytes last (pool, tokio, by hand)
--- config
    location = /t {
        content_by_lua_block {
            for _, mode in ipairs({ "pool", "async", "manual" }) do
                local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"' .. mode .. '"}')
                local s = rt:stream_x("stream 300 700", { window = 4096 })
                ngx.say(mode, ": ", read_all(s, 700))
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
pool: chunks=300 bad=1 last=end end=eof
async: chunks=300 bad=1 last=end end=eof
manual: chunks=300 bad=1 last=end end=eof
live: 0



=== TEST 2: Rust SDK: an error ends the stream with its rc; a plain call is not a stream
--- config
    location = /t {
        content_by_lua_block {
            for _, mode in ipairs({ "pool", "async", "manual" }) do
                local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"' .. mode .. '"}')
                ngx.say(mode, ": ", read_all(rt:stream_x("stream_fail 3"), 8))
                ngx.say(mode, ": ", read_all(rt:stream_x("is_stream"), 1))
                ngx.say(mode, ": ", select(2, rt:call("is_stream")))
            end
        }
    }
--- request
GET /t
--- response_body
pool: chunks=3 bad=0 last=nil end=7 went wrong
pool: chunks=0 bad=2 last=stream end=eof
pool: plain: not a stream call
async: chunks=3 bad=0 last=nil end=7 went wrong
async: chunks=0 bad=2 last=stream end=eof
async: plain: not a stream call
manual: chunks=3 bad=0 last=nil end=7 went wrong
manual: chunks=0 bad=2 last=stream end=eof
manual: plain: not a stream call



=== TEST 3: Rust SDK: s:close() reaches the handler: a cancelled send (pool, by hand), its future dropped (tokio)
--- config
    location = /t {
        content_by_lua_block {
            for _, mode in ipairs({ "pool", "async", "manual" }) do
                local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"' .. mode .. '"}')
                local before = tonumber(select(2, rt:call("stream_cancels")))
                local s = rt:stream_x("stream_ticks 5", { window = 64 })
                ngx.say(mode, ": ", s:read(), " ", s:read())
                s:close()
                ngx.say(mode, ": seen ", wait_for_answer(rt, "stream_cancels", tostring(before + 1)) - before)
            end
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
pool: tick 0 tick 1
pool: seen 1
async: tick 0 tick 1
async: seen 1
manual: tick 0 tick 1
manual: seen 1
live: 0



=== TEST 4: Go SDK: a StreamHandler's writes are the chunks, in order; the answer's bytes last
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            ngx.say(read_all(rt:stream_x("stream 300 700", { window = 4096 }), 700))
            local s = rt:stream_x("stream_total 1048576 65536")
            local bytes, n = 0, 0
            for chunk in s:chunks() do bytes = bytes + #chunk; n = n + 1 end
            ngx.say("bytes: ", bytes, " chunks: ", n, " end: ", s.err)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
chunks=300 bad=1 last=end end=eof
bytes: 1048588 chunks: 17 end: eof
live: 0



=== TEST 5: Go SDK: an error ends the stream with its rc; a plain call's writer is not a stream
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            ngx.say(read_all(rt:stream_x("stream_fail 3"), 8))
            ngx.say(read_all(rt:stream_x("is_stream"), 1))
            ngx.say(select(2, rt:call("is_stream")))
            ngx.say(select(2, rt:call("echo still plain")))
        }
    }
--- request
GET /t
--- response_body
chunks=3 bad=0 last=nil end=7 went wrong
chunks=0 bad=2 last=stream end=eof
plain: restyffi: not a stream call in the runtime's hands
still plain



=== TEST 6: Go SDK: s:close() fails the handler's next Write with context.Canceled
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_test"))
            local before = tonumber(select(2, rt:call("stream_cancels")))
            local s = rt:stream_x("stream_ticks 5", { window = 64 })
            ngx.say(s:read(), " ", s:read())
            s:close()
            ngx.say("seen ", wait_for_answer(rt, "stream_cancels", tostring(before + 1)) - before)
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
tick 0 tick 1
seen 1
live: 0



=== TEST 7: the SSE example: tokens from ffi_go_tokens relayed as server-sent events, in order
--- config
    location = /sse {
        lua_check_client_abort on;
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_tokens", "10"))
            ngx.req.read_body()
            local s = rt:stream_gen(ngx.req.get_body_data() or "", { timeout = 5000 })
            ngx.header["Content-Type"] = "text/event-stream"
            for token in s:chunks() do
                ngx.print("data: ", token, "\n\n")
                ngx.flush(true)
            end
            ngx.print("event: done\ndata: ", s.err, "\n\n")
        }
    }
    location = /t {
        content_by_lua_block {
            ngx.update_time()
            local t0 = ngx.now()
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", ngx.var.server_port))
            local body = "the quick brown fox jumps over the lazy dog"
            assert(sock:send("POST /sse HTTP/1.0\r\nHost: localhost\r\nContent-Length: "
                             .. #body .. "\r\n\r\n" .. body))
            local status = sock:receive("*l")
            ngx.say(status)
            repeat
                local line = sock:receive("*l")
                if line and line:lower() == "content-type: text/event-stream" then
                    ngx.say(line)
                end
            until line == "" or not line
            local events = {}
            while true do
                local line = sock:receive("*l")
                if not line then break end
                if line ~= "" then
                    events[#events + 1] = line
                end
            end
            ngx.update_time()
            ngx.say(table.concat(events, "|"))
            -- Nine tokens 10 ms apart: they came as the runtime made them.
            ngx.say("took at least 80 ms: ", ngx.now() - t0 >= 0.08)
        }
    }
--- request
GET /t
--- response_body
HTTP/1.1 200 OK
Content-Type: text/event-stream
data: the|data: quick|data: brown|data: fox|data: jumps|data: over|data: the|data: lazy|data: dog|event: done|data: eof
took at least 80 ms: true



=== TEST 8: Python: generator handlers stream their chunks in order (serve and serve_async)
--- config
    location = /t {
        content_by_lua_block {
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(ngx.load_ffi("resty_ffi_python",
                    "$TEST_NGINX_PY_TESTS/pyt_stream,init," .. mode, { is_global = true }))
                ngx.say(mode, ": ", read_all(rt:stream_x("stream 300 700", { window = 4096 }), 700))
                ngx.say(mode, ": ", read_all(rt:stream_x("stream_fail 3"), 8))
                ngx.say(mode, ": ", select(2, rt:call("stream 3 4")))
                ngx.say(mode, ": ", read_all(rt:stream_x("is_stream"), 1), " / ", select(2, rt:call("is_stream")))
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
sync: chunks=300 bad=0 last=nil end=eof
sync: chunks=3 bad=0 last=nil end=7 went wrong
sync: 0:cd1:cd2:cd
sync: chunks=0 bad=1 last=stream end=eof / plain
async: chunks=300 bad=0 last=nil end=eof
async: chunks=3 bad=0 last=nil end=7 went wrong
async: 0:cd1:cd2:cd
async: chunks=0 bad=1 last=stream end=eof / plain
live: 0



=== TEST 9: Python: s:close() stops the generator (closed at its yield, or its asyncio task cancelled)
--- config
    location = /t {
        content_by_lua_block {
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(ngx.load_ffi("resty_ffi_python",
                    "$TEST_NGINX_PY_TESTS/pyt_stream,init," .. mode, { is_global = true }))
                local before = tonumber(select(2, rt:call("stream_cancels")))
                local s = rt:stream_x("stream_ticks 5", { window = 64 })
                ngx.say(mode, ": ", s:read(), " ", s:read())
                s:close()
                ngx.say(mode, ": seen ", wait_for_answer(rt, "stream_cancels", tostring(before + 1)) - before)
            end
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
sync: tick 0 tick 1
sync: seen 1
async: tick 0 tick 1
async: seen 1
live: 0



=== TEST 10: Node.js: a handler's async (or sync) generator streams what it yields; a plain call joins it
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/stream.js,init"))
            ngx.say(read_all(rt:stream_x("stream 300 700", { window = 4096 }), 700))
            ngx.say(read_all(rt:stream_x("stream_fail 3"), 8))
            ngx.say(read_all(rt:stream_x("sync 3"), 4))
            ngx.say(select(2, rt:call("stream 3 4")))
            ngx.say(select(2, rt:call("sync 2")))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
chunks=300 bad=0 last=nil end=eof
chunks=3 bad=0 last=nil end=7 went wrong
chunks=3 bad=0 last=nil end=eof
0:cd1:cd2:cd
0:cd1:cd
live: 0



=== TEST 11: Node.js: s:close() closes the generator (its finally runs)
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/stream.js,init"))
            local before = tonumber(select(2, rt:call("stream_cancels")))
            local s = rt:stream_x("stream_ticks 5", { window = 64 })
            ngx.say(s:read(), " ", s:read())
            s:close()
            ngx.say("seen ", wait_for_answer(rt, "stream_cancels", tostring(before + 1)) - before)
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
tick 0 tick 1
seen 1
live: 0



=== TEST 12: Java: Task.output() writes are the chunks, in order; the answer's bytes last; an error end
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_java", "rtest.Commands,init,stream"))
            ngx.say(read_all(rt:stream_x("stream 300 700", { window = 4096 }), 700))
            ngx.say(read_all(rt:stream_x("stream_fail 3"), 8))
            ngx.say(select(2, rt:call("stream 1 4")))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
chunks=300 bad=1 last=end end=eof
chunks=3 bad=0 last=nil end=7 went wrong
22not a stream call
live: 0



=== TEST 13: Java: s:close() fails the handler's next write with StreamCancelledException
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_java", "rtest.Commands,init,stream"))
            local before = tonumber(select(2, rt:call("stream_cancels")))
            local s = rt:stream_x("stream_ticks 5", { window = 64 })
            ngx.say(s:read(), " ", s:read())
            s:close()
            ngx.say("seen ", wait_for_answer(rt, "stream_cancels", tostring(before + 1)) - before)
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
tick 0 tick 1
seen 1
live: 0



=== TEST 14: the transform example: a 3 MiB body streamed back upper-cased in 64 KiB chunks, and gzip-compressed
--- config
    location = /transform {
        client_max_body_size 16m;
        client_body_buffer_size 1m;
        lua_check_client_abort on;
        content_by_lua_block {
            local mode = ngx.var.arg_mode == "gzip" and "gzip" or "upper"
            local rt = assert(ngx.load_ffi("ffi_go_transform", mode))
            ngx.req.read_body()
            local body = ngx.req.get_body_data()
            if not body then
                local f = assert(io.open(assert(ngx.req.get_body_file()), "rb"))
                body = f:read("*a")
                f:close()
            end
            local s = rt:stream_x(body, { timeout = 30000 })
            local n, max = 0, 0
            for chunk in s:chunks() do
                n, max = n + 1, math.max(max, #chunk)
                ngx.print(chunk)
                ngx.flush(true)
            end
            ngx.log(ngx.NOTICE, "transform ", mode, ": chunks=", n, " max=", max, " end=", s.err)
        }
    }
    location = /t {
        content_by_lua_block {
            -- Every byte value, mixed case: 256 bytes x 12288 = 3 MiB.
            local bytes = {}
            for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
            local body = string.rep(table.concat(bytes), 12288)
            local function post(path)
                local sock = ngx.socket.tcp()
                sock:settimeout(30000)
                assert(sock:connect("127.0.0.1", ngx.var.server_port))
                assert(sock:send("POST " .. path .. " HTTP/1.0\r\nHost: localhost\r\nContent-Length: "
                                 .. #body .. "\r\n\r\n" .. body))
                local status = sock:receive("*l")
                repeat local line = sock:receive("*l") until line == "" or not line
                local answer = sock:receive("*a")
                sock:close()
                return status, answer
            end
            local status, answer = post("/transform")
            ngx.say(status, " ", #answer, " bytes, string.upper of the body: ", answer == body:upper())
            local gz
            status, gz = post("/transform?mode=gzip")
            ngx.say(status, " gzip magic: ", gz:sub(1, 3) == "\31\139\8", ", smaller: ", #gz < #body / 10)
            -- gzip -d gives the body back, byte for byte.
            local dir = ngx.config.prefix() .. "html/"
            local f = assert(io.open(dir .. "body", "wb")); f:write(body); f:close()
            f = assert(io.open(dir .. "body.gz", "wb")); f:write(gz); f:close()
            -- (io.popen: under nginx, whose SIGCHLD handler reaps children, os.execute's status is unreliable.)
            local p = assert(io.popen("gzip -dc " .. dir .. "body.gz | cmp -s - " .. dir .. "body && echo same"))
            ngx.say("gunzipped equals the body: ", p:read("*a") == "same\n")
            p:close()
        }
    }
--- request
GET /t
--- response_body
HTTP/1.1 200 OK 3145728 bytes, string.upper of the body: true
HTTP/1.1 200 OK gzip magic: true, smaller: true
gunzipped equals the body: true
--- error_log
transform upper: chunks=48 max=65536 end=eof
transform gzip:
--- no_error_log
[error]
--- timeout: 30
