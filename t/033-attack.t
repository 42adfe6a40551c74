# Attacks on the bridge (streams, shared dicts, cancellation, the Lua API): each block is a
# way a user's code or a runtime could misuse it that once crashed, hung or lost a call.

use lib '.';
use t::TestFFI 'no_plan';

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
            ngx.say(select(2, ngx.thread.wait(a)))
            ngx.say(select(2, ngx.thread.wait(b)))
            ngx.sleep(0.3)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
a: first,second,eof
b: busy reading
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
