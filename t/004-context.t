# vim:set ft= ts=4 sw=4 et fdm=marker:
# Contexts that cannot yield get a clear error instead of a crashed worker.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: set_by_lua
--- config
    location = /t {
        set_by_lua_block $res {
            local ok, err = ngx.load_ffi("ffi_echo"):echo("x")
            return tostring(ok) .. " " .. err
        }
        return 200 "$res\n";
    }
--- request
GET /t
--- response_body
false API disabled in the context of set (it cannot yield)



=== TEST 2: header_filter_by_lua and body_filter_by_lua
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("body")
        }
        header_filter_by_lua_block {
            local ok, err = ngx.load_ffi("ffi_echo"):echo("x")
            ngx.header["X-Result"] = tostring(ok) .. " " .. err
        }
        body_filter_by_lua_block {
            if ngx.arg[1] ~= "" then
                local ok, err = ngx.load_ffi("ffi_echo"):echo("x")
                ngx.arg[1] = ngx.arg[1] .. tostring(ok) .. " " .. err .. "\n"
            end
        }
    }
--- request
GET /t
--- response_headers
X-Result: false API disabled in the context of header_filter (it cannot yield)
--- response_body
body
false API disabled in the context of body_filter (it cannot yield)



=== TEST 3: log_by_lua
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("ok")
        }
        log_by_lua_block {
            local ok, err = ngx.load_ffi("ffi_echo"):echo("x")
            ngx.log(ngx.WARN, "log phase call: ", tostring(ok), " ", err)
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log
log phase call: false API disabled in the context of log (it cannot yield)



=== TEST 4: a call inside a user coroutine yields through it
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local co = coroutine.wrap(function()
                local ok, res = rt:call("sleep 5 in-coroutine")
                coroutine.yield(res)
                return "done"
            end)
            ngx.say(co())
            ngx.say(co())
        }
    }
--- request
GET /t
--- response_body
in-coroutine
done
