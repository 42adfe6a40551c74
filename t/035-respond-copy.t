# vim:set ft= ts=4 sw=4 et fdm=marker:
# ngx_http_resty_ffi_respond_copy: an answer the module copies into the task's own buffer,
# reused from call to call (the runtime keeps its bytes; ffi_test spoils them right after the
# call). Sizes around the 16 KiB the slot keeps, NULL, empty, error codes, second answers,
# a length no buffer has, and the Rust SDK's small answers that go this way.

use lib '.';
use t::TestFFI 'no_plan';

our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    init_worker_by_lua_block { require "resty_ffi" }
_EOC_

worker_connections(1024);
no_long_string();
run_tests();

__DATA__

=== TEST 1: bytes, the empty string, NULL and an error code, each as given (the runtime's buffer spoiled after the call)
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            ngx.say(rt:call("copy 0 hello"))
            local ok, res = rt:call("copy 0 ")
            ngx.say(ok, " [", res, "] ", type(res))
            ok, res = rt:call("copy_null")
            ngx.say(ok, " ", type(res))
            ngx.say(rt:call("copy 7 went wrong"))
            ngx.say(rt:call("copy -99 reserved"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
truehello
true [] string
true nil
false7went wrong
false-99reserved
live: 0
--- no_error_log
[error]
[alert]



=== TEST 2: sizes around what a slot keeps (16 KiB) and far beyond, in turns through the same slots
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local sizes = { 1, 100, 16383, 16384, 16385, 100000, 3000000, 10, 16384, 0, 512 }
            local bad = 0
            for round = 1, 3 do
                for _, n in ipairs(sizes) do
                    local b = string.char(97 + (n + round) % 26)
                    local ok, res = rt:call("copy_fill " .. n .. " " .. b)
                    if not ok or res ~= string.rep(b, n) then
                        bad = bad + 1
                        ngx.say("size ", n, ": ", ok, " ", res and #res)
                    end
                end
            end
            ngx.say("bad: ", bad)
            -- Two in flight at once: each answer is in its own task's buffer.
            local t1 = ngx.thread.spawn(function() return rt:call("copy 0 first") end)
            local t2 = ngx.thread.spawn(function() return rt:call("copy 0 second") end)
            ngx.say(select(3, ngx.thread.wait(t1)), " ", select(3, ngx.thread.wait(t2)))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
bad: 0
first second
live: 0
--- no_error_log
[error]
[alert]



=== TEST 3: a second and a third answer (by copy, then handed over) are dropped, not delivered, and the handed-over one freed
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            for i = 1, 200 do
                local ok, res = rt:call("copy_twice one" .. i)
                if res ~= "one" .. i then
                    ngx.say("got ", res)
                end
            end
            ngx.say(rt:call("copy 0 after"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
trueafter
live: 0
--- error_log
dropped
--- no_error_log
[alert]
[crit]



=== TEST 4: a length no buffer has is answered "no memory" (-4) without a read
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            ngx.say(rt:call("copy_bad_len"))
            ngx.say(rt:call("copy 0 still fine"))
        }
    }
--- request
GET /t
--- response_body
false-4nil
truestill fine
--- no_error_log
[alert]
[crit]



=== TEST 5: the Rust SDK answers small bodies by copy and large ones handed over, both intact, 20,000 calls
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_echo")
            local bad = 0
            for i = 1, 20000 do
                local n = (i % 4 == 0) and 40000 or (i % 97)
                local req = string.rep(string.char(65 + i % 26), n)
                local ok, res = rt:echo(req)
                if not ok or res ~= req then
                    bad = bad + 1
                end
            end
            ngx.say("bad: ", bad)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
bad: 0
live: 0
--- no_error_log
[error]
[alert]



=== TEST 6: eight threads answer one task at once, by copy and handed over: one answer wins, whole, 300 times; the others are dropped (and freed)
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local bad = 0
            for i = 1, 300 do
                local ok, res = rt:call("copy_race 8")
                if not ok or not (res:match("^c%d$") or res:match("^m%d$")) then
                    bad = bad + 1
                    ngx.say("got ", tostring(ok), " ", tostring(res))
                end
            end
            ngx.say("bad: ", bad)
            ngx.say(rt:call("copy 0 after"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
bad: 0
trueafter
live: 0
--- error_log
dropped
--- no_error_log
[alert]
[crit]
