# Attacks on the bridge (streams, shared dicts, cancellation, the Lua API): each block is a
# way a user's code or a runtime could misuse it that once crashed, hung or lost a call.

use lib '.';
use t::TestFFI 'no_plan';

# (t::TestFFI's default, named for the blocks that add to it)
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block { require "resty_ffi" }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: two light threads read one stream at once
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local s = assert(rt:stream_x("stream_slow 200", { timeout = 1000 }))
            local function reader(name)
                local got = {}
                while true do
                    local c, err = s:read()
                    if not c then
                        got[#got + 1] = err
                        break
                    end
                    got[#got + 1] = c
                end
                return name .. ": " .. table.concat(got, ",")
            end
            local a = ngx.thread.spawn(reader, "a")
            local b = ngx.thread.spawn(reader, "b")
            -- Which reader gets which chunk depends on when each arrives (a chunk that is
            -- there is handed to whoever reads, even while the other waits for the next);
            -- what holds: every chunk once, in order, one end each, one of them "busy".
            local chunks, ends = {}, {}
            for _, th in ipairs({ a, b }) do
                local got = select(2, ngx.thread.wait(th)):match("^%a: (.*)$")
                for item in got:gmatch("[^,]+") do
                    if item == "eof" or item == "busy reading" then
                        ends[#ends + 1] = item
                    else
                        chunks[#chunks + 1] = item
                    end
                end
            end
            table.sort(ends)
            ngx.say("chunks: ", table.concat(chunks, ","))
            ngx.say("ends: ", table.concat(ends, ","))
            ngx.sleep(0.3)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
chunks: first,second
ends: busy reading,eof
live: 0
--- timeout: 10



=== TEST 2: close() while another light thread waits in read()
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local s = assert(rt:stream_x("stream_slow 200", { timeout = 1000 }))
            ngx.say(s:read())
            local th = ngx.thread.spawn(function() return s:read() end)
            ngx.sleep(0.01)
            ngx.say("close: ", s:close())
            ngx.say("reader: ", select(2, ngx.thread.wait(th)))
            ngx.sleep(0.3)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
first
close: true
reader: nilclosed
live: 0
--- timeout: 10



=== TEST 3: read() inside a table.sort comparator with no chunk ready
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local s = assert(rt:stream_x("stream_slow 200", { timeout = 1000 }))
            ngx.say(s:read())
            local refused
            local ok, err = pcall(table.sort, {3, 2, 1}, function(a, b)
                local c, why = s:read()
                refused = refused or why
                return a < b
            end)
            ngx.say("sort: ", ok, " ", err, " ", refused)
            ngx.say(s:read())
            ngx.say(s:read())
            ngx.sleep(0.3)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
first
sort: true nil cannot yield here: a runtime call cannot be made inside a C function (a string.gsub or table.sort callback, a metamethod called by a C function, the top level of a required module)
second
nileof
live: 0
--- timeout: 10



=== TEST 4: a timer cannot read a stream its request opened (the request could end first)
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local s = assert(rt:stream_x("stream_slow 300", { timeout = 600 }))
            ngx.say(s:read())
            ngx.timer.at(0, function()
                local c, err = s:read()
                ngx.log(ngx.WARN, "timer read: ", c, " ", err)
            end)
            ngx.sleep(0.05)
            ngx.say(s:read())
            ngx.say(s:read())
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
first
second
nileof
live: 0
--- error_log
timer read: nil stream opened by another request



=== TEST 5: a window too large for a size_t is a stream, not a plain call left unread
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            for _, w in ipairs({ 2^64, 2^70, 1e300, 2^53 + 2, 1.5 }) do
                local s = assert(rt:stream_x("stream 2 3", { window = w }))
                local t = {}
                for c in s:chunks() do t[#t + 1] = c end
                ngx.say(table.concat(t, ","), " ", s.err)
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
0:c,1:c,end eof
0:c,1:c,end eof
0:c,1:c,end eof
0:c,1:c,end eof
0:c,1:c,end eof
live: 0



=== TEST 6: workers exit (reload, quit) while runtime threads change a shared dict without pause: the gate stops them first, the zone stays sound
--- http_config eval
$::HttpConfig . q{
    init_by_lua_block {
        -- The inner nginx: two workers, each with two runtime threads storing, deleting and
        -- counting in one zone that outlives the workers across the reload.
        package.loaded.inner_conf = [[
$TEST_NGINX_LOAD_MODULE_LINES
user root;
worker_processes 2;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict hammer 2m;
    init_worker_by_lua_block {
        require "resty_ffi"
        ngx.timer.at(0, function()
            local rt = ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_test.so")
            ngx.log(ngx.NOTICE, "hammer: ", select(2, rt:call("dict_hammer hammer 2")))
        end)
    }
    server {
        listen 127.0.0.1:PORT reuseport;
        location = /count {
            content_by_lua_block {
                local d = ngx.shared.hammer
                -- Walks the whole tree: a half-updated one shows here.
                local keys = d:get_keys(0)
                local bytes = 0
                for _, k in ipairs(keys) do
                    local v = d:get(k)
                    if type(v) == "string" then bytes = bytes + #v end
                end
                ngx.print(d:get("hammered") or 0)
            }
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
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner-shdict-exit",
                                          package.loaded.inner_conf, 20350, "$TEST_NGINX_BINARY")
            assert(inner:start())
            local function count()
                return tonumber(inner_nginx.sh("curl -s -m 5 http://127.0.0.1:20350/count")) or 0
            end
            local function hammering()
                local from = count()
                return inner_nginx.wait_for(function() return count() > from + 1000 end)
            end
            ngx.say("hammering: ", hammering())
            for i = 1, 2 do
                local old = inner:workers()
                inner:signal("HUP")
                ngx.say("reload ", i, ": old workers exited: ", inner_nginx.wait_for(function()
                    for _, pid in ipairs(old) do
                        if inner_nginx.alive(pid) then return false end
                    end
                    return true
                end, 100))
                ngx.say("hammering: ", hammering())
            end
            ngx.say("nginx stopped after quit: ", inner:stop("QUIT"))
            local log = inner:error_log()
            -- 6 workers exited, each with 2 threads (a thread may be killed before it
            -- writes its line: exit follows the gate at once).
            ngx.say("threads stopped by the gate: ",
                    inner_nginx.count(log, "dict_hammer stopped: worker exiting") > 0)
            ngx.say("exited with code 0: ", inner_nginx.count(log, "worker process %d+ exited with code 0"))
            ngx.say("alerts, crashes: ", inner:alerts())
        }
    }
--- request
GET /t
--- response_body
hammering: true
reload 1: old workers exited: true
hammering: true
reload 2: old workers exited: true
hammering: true
nginx stopped after quit: true
threads stopped by the gate: true
exited with code 0: 6
alerts, crashes: 0
--- timeout: 60



=== TEST 7: streams dropped unread in a long-lived request or timer are closed by the GC: no runtime thread sends into them for ever
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local before = tonumber(select(2, rt:call("streams_cancelled")))
            for i = 1, 50 do
                local s = assert(rt:stream_x("stream_until_cancel 100", { window = 100 }))
                for chunk in s:chunks() do
                    break   -- a loop left early: the stream is garbage now
                end
            end
            collectgarbage()
            collectgarbage()
            local ok = false
            for _ = 1, 100 do
                ngx.sleep(0.02)
                if require("resty_ffi").live_tasks() == 0 then ok = true break end
            end
            ngx.say("all freed while the request goes on: ", ok)
            ngx.say("the runtime saw them cancelled: ",
                    tonumber(select(2, rt:call("streams_cancelled"))) - before)
        }
    }
--- request
GET /t
--- response_body
all freed while the request goes on: true
the runtime saw them cancelled: 50
--- timeout: 20



=== TEST 8: a chunk too large for a Lua string (2 GiB - 1): nil and a message, the stream closed, all freed
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local s = assert(rt:stream_x("stream_big 2147483647"))
            ngx.say(s:read())
            ngx.say(s:read())
            -- (the runtime answers once its 2 GiB send returned: wait for it)
            for _ = 1, 500 do
                if require("resty_ffi").live_tasks() == 0 then break end
                ngx.sleep(0.02)
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
            ngx.say(rt:call("echo still fine"))
        }
    }
--- request
GET /t
--- response_body
nilchunk of 2147483647 bytes does not fit in a Lua string: string length overflow
nilchunk of 2147483647 bytes does not fit in a Lua string: string length overflow
live: 0
truestill fine
--- timeout: 60



=== TEST 9: reload and quit while wrk drives streams (read to the end, closed early, dropped unread) and runtime shared-dict calls on two workers
--- http_config eval
$::HttpConfig . q{
    init_by_lua_block {
        package.loaded.inner_conf = [[
$TEST_NGINX_LOAD_MODULE_LINES
user root;
worker_processes 2;
worker_shutdown_timeout 2s;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict counts 1m;
    init_worker_by_lua_block { require "resty_ffi" }
    server {
        listen 127.0.0.1:PORT reuseport;
        location = /mix {
            content_by_lua_block {
                local rt = ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_test.so", "threads=2")
                local s = rt:stream_x("stream 20 300", { window = 600 })
                local n = 0
                for _ in s:chunks() do n = n + 1 end
                local s2 = rt:stream_x("stream_until_cancel 50", { window = 100 })
                s2:read()
                if ngx.worker.pid() % 2 == 0 then s2:close() end   -- else dropped unread
                local ok, res = rt:call("dict_incr counts mix 1 0")
                ngx.say(n, " ", s.err, " ", ok and res or "failed")
            }
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
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner-stream-load",
                                          package.loaded.inner_conf, 20351, "$TEST_NGINX_BINARY")
            assert(inner:start())
            ngx.sleep(0.3)
            ngx.say("one: ", inner_nginx.sh("curl -s -m 5 http://127.0.0.1:20351/mix"))
            inner:wrk("/mix", 32, 4)
            ngx.sleep(1)
            local old = inner:workers()
            inner:signal("HUP")
            ngx.say("old workers exited after reload: ", inner_nginx.wait_for(function()
                for _, pid in ipairs(old) do
                    if inner_nginx.alive(pid) then return false end
                end
                return true
            end, 50))
            ngx.sleep(0.5)
            ngx.say("nginx stopped after quit: ", inner:stop("QUIT"))
            ngx.sleep(3)   -- let wrk end
            ngx.say("alerts, crashes: ", inner:alerts(true))
            ngx.say("workers exited cleanly: ",
                    inner_nginx.count(inner:error_log(), "worker process %d+ exited with code 0"))
            ngx.say("wrk drove streams: ", inner:wrk_requests() > 100)
        }
    }
--- request
GET /t
--- response_body
one: 21 eof value 1

old workers exited after reload: true
nginx stopped after quit: true
alerts, crashes: 0
workers exited cleanly: 4
wrk drove streams: true
--- timeout: 40



=== TEST 10: the newer ABI functions refuse wrong handles and arguments (NULL, small, far off, stale, on the stack; NULL names, buffers, dicts); stray answers are dropped; a reserved rc reaches Lua as is
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            rt:call("abi_garbage")
            local ok, res = rt:call("abi_garbage")
            for item in res:gmatch("%S+") do ngx.say(item) end
            ngx.say(rt:call("error -5 runtime says cancelled"))
            ngx.say(rt:call("error -99 reserved"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
null=1,0,0,-1,-1,true
one=1,0,0,-1,-1,true
max=1,0,0,-1,-1,true
far=1,0,0,-1,-1,true
stack=1,0,0,-1,-1,true
stale=1,0,0,-1,-1,true
own_null_buf=-1
cancel_poll=-1,-1,-1,-1
zones=true,true
err=no
lua_shared_dict
of
that
name
in
nginx.conf
null_dict=-1,-1
false-5runtime says cancelled
false-99reserved
live: 0
--- error_log
dropped
--- no_error_log
[alert]
[crit]



=== TEST 11: a light thread killed while it waits in read(): the stream reads on from another
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local s = assert(rt:stream_x("stream_slow 300", { timeout = 2000 }))
            ngx.say(s:read())
            local th = ngx.thread.spawn(function() return s:read() end)
            ngx.sleep(0.01)
            ngx.say("killed: ", ngx.thread.kill(th))
            ngx.say(s:read())
            ngx.say(s:read())
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
first
killed: 1
second
nileof
live: 0



=== TEST 12: metrics.enable refuses intervals that are not a sane number of seconds (NaN made a timer that never fired)
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict m 1m;
    init_worker_by_lua_block { require "resty_ffi" }
--- config
    location = /t {
        content_by_lua_block {
            local m = require "resty.ffi.metrics"
            for _, every in ipairs({ 0/0, math.huge, -1, 0, "1" }) do
                local ok, err = pcall(m.enable, "m", every)
                ngx.say(ok, " ", (tostring(err):gsub("^.-: ", "")))
            end
        }
    }
--- request
GET /t
--- response_body
false bad argument #2 to 'enable' (seconds from 0.001 to 86400 expected, got nan)
false bad argument #2 to 'enable' (seconds from 0.001 to 86400 expected, got inf)
false bad argument #2 to 'enable' (seconds from 0.001 to 86400 expected, got -1)
false bad argument #2 to 'enable' (seconds from 0.001 to 86400 expected, got 0)
false bad argument #2 to 'enable' (seconds from 0.001 to 86400 expected, got 1)



=== TEST 13: a stream kept in a module-level table after its request ended: a later request's read and close are refused or see it closed; nothing waits, nothing leaks
--- config
    location = /open {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            package.loaded.kept_stream = assert(rt:stream_x("stream_until_cancel 10", { window = 10 }))
            ngx.say(package.loaded.kept_stream:read())
        }
    }
    location = /later {
        content_by_lua_block {
            local s = package.loaded.kept_stream
            local c, err = s:read()
            ngx.say("read: ", c, " ", err == "closed" or err == "stream opened by another request (read it where it was opened)")
            ngx.say("close: ", s:close())
            for _ = 1, 100 do
                if require("resty_ffi").live_tasks() == 0 then break end
                ngx.sleep(0.02)
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request eval
["GET /open", "GET /later"]
--- response_body eval
["0:cdefghij\n", "read: nil true\nclose: true\nlive: 0\n"]



=== TEST 14: huge keys and values from a runtime: refused as for Lua ("key too long", "no memory"), the zone intact; a list's get says so
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict d 1m;
    init_worker_by_lua_block { require "resty_ffi" }
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local function say(cmd, label)
                local ok, res = rt:call(cmd)
                ngx.say(label, " -> ", res)
            end
            local k64 = string.rep("k", 65535)
            say("dict_store d 0 " .. k64 .. " string 0 0 v", "65535-byte key")
            say("dict_get d " .. k64, "get it")
            say("dict_store d 0 " .. k64 .. "k string 0 0 v", "65536-byte key")
            say("dict_get d " .. k64 .. "k", "get")
            say("dict_incr d " .. k64 .. "k 1 0", "incr")
            say("dict_ttl d " .. k64 .. "k", "ttl")
            say("dict_store d 0 big string 0 0 " .. string.rep("v", 2 * 1024 * 1024), "2 MiB value, set")
            say("dict_store d 4 big string 0 0 " .. string.rep("v", 2 * 1024 * 1024), "2 MiB value, safe_set")
            say("dict_store d 0 small string 0 0 fine", "then")
            ngx.shared.d:lpush("list", "a")
            say("dict_get d list", "a Lua list")
            -- (the failed set evicted what it could, as Lua's own set does: the big key went)
            ngx.say("Lua reads: ", ngx.shared.d:get("small"), " ", ngx.shared.d:get(k64))
        }
    }
--- request
GET /t
--- response_body
65535-byte key -> stored
get it -> string v flags=0
65536-byte key -> error key too long
get -> error key too long
incr -> error key too long
ttl -> -1
2 MiB value, set -> error no memory
2 MiB value, safe_set -> error no memory
then -> stored
a Lua list -> error value is a list
Lua reads: fine nil



=== TEST 15: calls and stream reads from the remaining odd places: a __gc finalizer, an xpcall handler, coroutine.wrap, set_by_lua, header_filter, log, init_worker, ngx.timer.every
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict seen 1m;
    init_worker_by_lua_block {
        require "resty_ffi"
        local rt = ngx.load_ffi("ffi_test")
        ngx.shared.seen:set("init_worker", tostring(select(2, rt:call("echo x"))))
        local n = 0
        ngx.timer.every(0.01, function(premature)
            n = n + 1
            if premature or n > 2 then return end
            local s = rt:stream_x("stream 2 3")
            local t = {}
            for c in s:chunks() do t[#t + 1] = c end
            ngx.shared.seen:set("every" .. n, select(2, rt:call("echo e")) .. " " .. table.concat(t, ","))
        end)
    }
--- config
    location = /t {
        set_by_lua_block $set {
            return tostring(select(2, ngx.load_ffi("ffi_test"):call("echo s")))
        }
        header_filter_by_lua_block {
            ngx.shared.seen:set("header_filter", tostring(select(2, ngx.load_ffi("ffi_test"):call("echo h"))))
        }
        log_by_lua_block {
            ngx.shared.seen:set("log", tostring(select(2, ngx.load_ffi("ffi_test"):call("echo l"))))
        }
        content_by_lua_block {
            local ffi = require "ffi"
            local rt = ngx.load_ffi("ffi_test")
            local from_gc
            do
                local p = ffi.gc(ffi.new("int[1]"), function() from_gc = select(2, rt:call("echo g")) end)
                p = nil
            end
            collectgarbage()
            collectgarbage()
            ngx.say("__gc: ", from_gc)
            ngx.say("xpcall handler: ", select(2, xpcall(error, function()
                return select(2, rt:call("echo h"))
            end)))
            ngx.say("coroutine.wrap: ", select(2, coroutine.wrap(function() return rt:call("echo w") end)()))
            local s = rt:stream_x("stream 2 3")
            ngx.say("stream read in coroutine.wrap: ", coroutine.wrap(function() return s:read() end)())
            ngx.say("set_by_lua: ", ngx.var.set)
            for _ = 1, 100 do
                if ngx.shared.seen:get("every2") then break end
                ngx.sleep(0.01)
            end
            local seen = ngx.shared.seen
            ngx.say("init_worker: ", seen:get("init_worker"))
            ngx.say("timer.every: ", seen:get("every1"), " / ", seen:get("every2"))
            ngx.say("header_filter: ", seen:get("header_filter"))
        }
    }
    location = /after {
        content_by_lua_block {
            ngx.say("log: ", ngx.shared.seen:get("log"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request eval
["GET /t", "GET /after"]
--- response_body eval
["__gc: cannot yield here: a runtime call cannot be made inside a C function (a string.gsub or table.sort callback, a metamethod called by a C function, the top level of a required module)
xpcall handler: cannot yield here: a runtime call cannot be made inside a C function (a string.gsub or table.sort callback, a metamethod called by a C function, the top level of a required module)
coroutine.wrap: w
stream read in coroutine.wrap: 0:c
set_by_lua: API disabled in the context of set (it cannot yield)
init_worker: API disabled in the context of init_worker (it cannot yield)
timer.every: e 0:c,1:c,end / e 0:c,1:c,end
header_filter: API disabled in the context of header_filter (it cannot yield)
", "log: API disabled in the context of log (it cannot yield)
live: 0
"]



=== TEST 16: eight runtime threads send on one stream task at once through a small window: every chunk arrives once, each thread's in order
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local s = assert(rt:stream_x("stream_senders 8 2000", { window = 64 }))
            local next_i, n, bad = {}, 0, 0
            for chunk in s:chunks() do
                local t, i = chunk:match("^(%d+):(%d+)$")
                if t then
                    i = tonumber(i)
                    if i ~= (next_i[t] or 0) then bad = bad + 1 end
                    next_i[t] = i + 1
                    n = n + 1
                elseif chunk ~= "end" then
                    bad = bad + 1
                end
            end
            ngx.say("chunks: ", n, " out of order or foreign: ", bad, " end: ", s.err)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
chunks: 16000 out of order or foreign: 0 end: eof
live: 0
--- timeout: 30



=== TEST 17: a runtime sending empty chunks without end (no window bounds them) queues nothing
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local s = assert(rt:stream_x("stream_empty 3000000", { window = 16 }))
            ngx.sleep(0.5)   -- the runtime sends meanwhile; nothing may pile up
            local n = 0
            for chunk in s:chunks() do n = n + 1 end
            ngx.say("chunks: ", n, " end: ", s.err)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
chunks: 1 end: eof
live: 0
--- timeout: 60



=== TEST 18: 1-byte chunks: what waits for a slow reader stays within the window (each chunk's bookkeeping counts)
--- config
    location = /t {
        content_by_lua_block {
            local function rss_kb()
                for line in io.lines("/proc/self/status") do
                    local kb = line:match("^VmRSS:%s+(%d+)")
                    if kb then return tonumber(kb) end
                end
            end
            local rt = ngx.load_ffi("ffi_test")
            local before = rss_kb()
            local ss = {}
            for i = 1, 20 do
                ss[i] = assert(rt:stream_x("stream_total 262144 1", { window = 262144 }))
            end
            -- The runtime fills every window while nobody reads.
            ngx.sleep(1)
            local grew = rss_kb() - before
            -- 20 windows of 256 KiB are 5 MiB; 1-byte chunks used to take 80 times that.
            ngx.say("20 full windows hold less than 20 MiB: ", grew < 20 * 1024, grew >= 20 * 1024 and (" (" .. grew .. " kB)") or "")
            local n = 0
            for i = 1, 20 do
                for chunk in ss[i]:chunks() do n = n + #chunk end
            end
            ngx.say("bytes read: ", n > 20 * 262144)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
20 full windows hold less than 20 MiB: true
bytes read: true
live: 0
--- timeout: 120



=== TEST 19: four threads in cancel_poll on one queue: 200 calls given up on are each announced once; the unload releases every listener
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "cancel_listeners=4")
            local before = select(2, rt:call("cancels")):match("announced=(%d+)")
            local threads = {}
            for i = 1, 200 do
                threads[i] = ngx.thread.spawn(function()
                    return rt:call("wait_announce 5000", { timeout = 50 })
                end)
            end
            local timeouts = 0
            for i = 1, 200 do
                local _, ok, err = ngx.thread.wait(threads[i])
                if not ok and err == "timeout" then timeouts = timeouts + 1 end
            end
            ngx.say("timeouts: ", timeouts)
            local announced
            for _ = 1, 200 do
                announced = select(2, rt:call("cancels")):match("announced=(%d+)") - before
                if announced >= 200 then break end
                ngx.sleep(0.01)
            end
            ngx.say("announced: ", announced)
            rt:__unload()
            for _ = 1, 100 do
                if require("resty_ffi").live_tasks() == 0 then break end
                ngx.sleep(0.01)
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
            -- The listeners leave cancel_poll on their own threads after the unload: ask the
            -- library (another runtime of it shares its counters) until all four are out,
            -- so their log lines are in error.log before the block ends.
            local probe = ngx.load_ffi("ffi_test")
            local done
            for _ = 1, 300 do
                done = tonumber(select(2, probe:call("listeners_done")))
                if done >= 4 then break end
                ngx.sleep(0.01)
            end
            ngx.say("listeners done: ", done)
        }
    }
--- request
GET /t
--- response_body
timeouts: 200
announced: 200
live: 0
listeners done: 4
--- error_log
ffi_test: cancel listener done (4 so far)
--- timeout: 30



=== TEST 20: a request closes a stream a timer is waiting on: the timer's read wakes with "closed", nothing is left on the semaphore
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local shared = {}
            ngx.timer.at(0, function()
                local s = assert(rt:stream_x("stream_slow 2000", { timeout = 5000 }))
                shared.s = s
                shared.first = s:read()
                shared.second = { s:read() }
            end)
            for _ = 1, 100 do
                if shared.first then break end
                ngx.sleep(0.01)
            end
            ngx.sleep(0.05)   -- the timer waits in read() now
            ngx.say("first: ", shared.first, " close: ", shared.s:close())
            for _ = 1, 100 do
                if shared.second then break end
                ngx.sleep(0.01)
            end
            ngx.say("timer's read: ", unpack(shared.second))
            for _ = 1, 300 do
                if require("resty_ffi").live_tasks() == 0 then break end
                ngx.sleep(0.01)
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
first: first close: true
timer's read: nilclosed
live: 0
--- timeout: 20



=== TEST 21: hostile stream options and method names: bad windows and timeouts raise, "stream_" alone is a stream, "__index" raises, a 100 KB name is just a name
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            for _, opts in ipairs({ { window = 0 }, { window = -1 }, { window = 0/0 },
                                    { window = math.huge }, { window = "64" }, { window = 0.5 },
                                    { timeout = "x" }, { timeout = -1 }, { timeout = 0/0 },
                                    { timeout = math.huge } }) do
                local ok, err = pcall(rt.stream_x, rt, "stream 1 1", opts)
                ngx.say(ok, " ", tostring(err):match("bad argument.*"))
            end
            local s = assert(rt:stream_("stream 1 2"))
            ngx.say("stream_: ", s:read(), " ", s:read())
            local ok, err = pcall(function() return rt.__index end)
            ngx.say("__index: ", ok, " ", tostring(err):match("no runtime method.*"))
            local long = "stream_" .. string.rep("n", 100000)
            local s2 = assert(rt[long](rt, "stream 1 2"))
            ngx.say("long name: ", s2:read())
            s2:close()
            -- The close cancels the stream; its task ends when the runtime answers.
            for _ = 1, 100 do
                if require("resty_ffi").live_tasks() == 0 then break end
                ngx.sleep(0.01)
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
false bad argument #2 to runtime stream (window: a number of bytes >= 1 expected, got 0)
false bad argument #2 to runtime stream (window: a number of bytes >= 1 expected, got -1)
false bad argument #2 to runtime stream (window: a number of bytes >= 1 expected, got nan)
false bad argument #2 to runtime stream (window: a number of bytes >= 1 expected, got inf)
false bad argument #2 to runtime stream (window: a number of bytes >= 1 expected, got 64)
false bad argument #2 to runtime stream (window: a number of bytes >= 1 expected, got 0.5)
false bad argument #2 to runtime stream (timeout: finite number of milliseconds >= 0 expected (0: none), got x)
false bad argument #2 to runtime stream (timeout: finite number of milliseconds >= 0 expected (0: none), got -1)
false bad argument #2 to runtime stream (timeout: finite number of milliseconds >= 0 expected (0: none), got nan)
false bad argument #2 to runtime stream (timeout: finite number of milliseconds >= 0 expected (0: none), got inf)
stream_: 0: end
__index: false no runtime method __index (names starting with __ are reserved; __unload is the only one)
long name: 0:
live: 0
