use lib '.';
use t::TestFFI 'no_plan';
no_long_string();
run_tests();
__DATA__

=== TEST 1: odd places 2
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict m 1m;
    init_worker_by_lua_block {
        require "resty_ffi"
        local rt = ngx.load_ffi("ffi_test")
        ngx.log(ngx.WARN, "init_worker call: ", rt:call("echo x"))
        ngx.log(ngx.WARN, "init_worker stream: ", rt:stream_x("stream 1 1"))
        local n = 0
        ngx.timer.every(0.05, function()
            n = n + 1
            if n > 3 then return end
            local s = rt:stream_x("stream 2 3")
            local t = {}
            for c in s:chunks() do t[#t+1] = c end
            ngx.log(ngx.WARN, "every: ", rt:call("echo y"), " ", table.concat(t, ","))
        end)
        local m = require "resty.ffi.metrics"
        ngx.log(ngx.WARN, "metrics nan: ", pcall(m.enable, "m", 0/0))
        ngx.log(ngx.WARN, "metrics huge: ", pcall(m.enable, "m", math.huge))
    }
--- config
    location = /t {
        set_by_lua_block $x {
            local rt = ngx.load_ffi("ffi_test")
            return tostring(select(2, rt:call("echo s")))
        }
        content_by_lua_block {
            ngx.sleep(0.5)
            ngx.say("set: ", ngx.var.x)
            local m = require "resty.ffi.metrics"
            local p = m.prometheus()
            ngx.say("prom: ", p and #p > 0)
        }
    }
--- request
GET /t
--- response_body
--- timeout: 20
