# vim:set ft= ts=4 sw=4 et fdm=marker:
# Payloads are binary-safe and byte-exact in both directions, from 0 bytes to 16 MiB.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: empty and one-byte requests and answers
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_echo")
            local ok, res = rt:echo("")
            ngx.say(ok, " [", res, "] ", #res)
            ok, res = rt:echo("x")
            ngx.say(ok, " [", res, "] ", #res)
        }
    }
--- request
GET /t
--- response_body
true [] 0
true [x] 1



=== TEST 2: NUL bytes and every byte value, both directions
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_echo")
            local bytes = {}
            for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
            local req = "\0" .. table.concat(bytes) .. "\0\0tail\0"
            local ok, res = rt:echo(req)
            ngx.say(ok, " ", #req, " ", #res, " ", res == req)
        }
    }
--- request
GET /t
--- response_body
true 264 264 true



=== TEST 3: 1 MiB and 16 MiB of binary data, byte-exact
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_echo")
            local chunk = {}
            for i = 0, 1023 do chunk[#chunk + 1] = string.char(i % 256) end
            chunk = table.concat(chunk)
            for _, mib in ipairs({ 1, 16 }) do
                local req = string.rep(chunk, mib * 1024)
                local ok, res = rt:echo(req)
                ngx.say(mib, " MiB: ", ok, " ", #res == #req, " ", ngx.md5(res) == ngx.md5(req))
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
1 MiB: true true true
16 MiB: true true true
live: 0
--- timeout: 20



=== TEST 4: an answer much larger than the request (16 MiB from a few bytes)
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local ok, res = rt:call("fill 16777216 z")
            ngx.say(ok, " ", #res, " ", res == string.rep("z", 16777216))
        }
    }
--- request
GET /t
--- response_body
true 16777216 true
--- timeout: 20
