# vim:set ft= ts=4 sw=4 et fdm=marker:
# Two workers, each with Lua and two runtime threads incrementing one shared-dictionary key
# at once: 1,000,000 increments in all, and the count is exact.

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict d 1m;
    init_worker_by_lua_block {
        require "resty_ffi"
        ngx.timer.at(0, function()
            local d = ngx.shared.d
            local rt = ngx.load_ffi("ffi_test")
            -- Two runtime threads add 200,000 each while this timer adds 100,000 from Lua.
            local th = ngx.thread.spawn(function()
                return rt:call("dict_incr_many d count 200000 2", { timeout = 120000 })
            end)
            for i = 1, 100000 do
                d:incr("count", 1, 0)
                if i % 1000 == 0 then ngx.sleep(0) end
            end
            local _, ok, res = ngx.thread.wait(th)
            d:incr("workers_done", 1, 0)
            ngx.log(ngx.WARN, "runtime threads: ", res)
        end)
    }
_EOC_

master_on();
workers(2);
no_long_string();
run_tests();

__DATA__

=== TEST 1: 2 workers x (Lua + 2 runtime threads) increment one key 1,000,000 times: exact
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            for _ = 1, 1200 do
                if d:get("workers_done") == 2 then break end
                ngx.sleep(0.05)
            end
            ngx.say("workers done: ", d:get("workers_done"), ", count: ", d:get("count"))
        }
    }
--- request
GET /t
--- response_body
workers done: 2, count: 1000000
--- grep_error_log eval: qr/runtime threads: \w+/
--- grep_error_log_out
runtime threads: done
runtime threads: done
--- timeout: 90
