# vim:set ft= ts=4 sw=4 et fdm=marker:
# Go runtimes in several workers: each worker has its own Go runtime (two Go libraries in
# one process), and `nginx -s reload` with them loaded lets the old workers exit cleanly.

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block {
        require "resty_ffi"
        -- Every worker loads two Go libraries and calls both, from a timer.
        ngx.timer.at(0, function()
            local echo = assert(ngx.load_ffi("ffi_go_echo"))
            local redis = assert(ngx.load_ffi("ffi_go_redis",
                '{"addr":"127.0.0.1:$TEST_NGINX_REDIS_PORT"}'))
            ngx.log(ngx.WARN, "worker go calls: ", select(2, echo:echo("echo")), " ",
                    select(2, redis:call('{"cmd":"ping"}')))
        end)
    }
_EOC_

master_on();
workers(2);
no_long_string();
run_tests();

__DATA__

=== TEST 1: nginx -s reload with Go runtimes loaded: old workers exit with code 0, new ones call
--- config
    location = /pid {
        content_by_lua_block {
            local ok, res = ngx.load_ffi("ffi_go_echo"):echo("after reload")
            ngx.print(ngx.worker.pid(), " ", res)
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = assert(ngx.load_ffi("ffi_go_echo"))
            ngx.say(select(2, rt:echo("before reload")))
            local f = assert(io.open(ngx.config.prefix() .. "logs/nginx.pid"))
            local master = f:read("*l")
            f:close()
            os.execute("kill -HUP " .. master)
            -- This old worker stops accepting: ask until another worker answers.
            local pid, res
            for _ = 1, 100 do
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", ngx.var.server_port))
                sock:send("GET /pid HTTP/1.0\r\nHost: localhost\r\n\r\n")
                local resp = sock:receive("*a")
                sock:close()
                pid, res = (resp or ""):match("\r\n\r\n(%d+) (.*)$")
                if pid and tonumber(pid) ~= ngx.worker.pid() then break end
                ngx.sleep(0.05)
            end
            ngx.say("another worker: ", tonumber(pid) ~= ngx.worker.pid(), ", ", res)
            ngx.say(select(2, rt:echo("old worker still serves its request")))
        }
    }
--- request
GET /t
--- response_body
before reload
another worker: true, after reload
old worker still serves its request
--- wait: 0.5
--- error_log
worker go calls: echo PONG
gracefully shutting down
exited with code 0
