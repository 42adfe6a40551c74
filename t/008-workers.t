# vim:set ft= ts=4 sw=4 et fdm=marker:
# Several workers, each with its own runtimes, and `nginx -s reload` with runtimes loaded.

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block {
        require "resty_ffi"
        -- Every worker calls its own runtime once, from a timer.
        ngx.timer.at(0, function()
            local rt = ngx.load_ffi("ffi_test")
            local ok, res = rt:call("echo pong")
            ngx.log(ngx.WARN, "worker call: ", res, " inits: ", select(2, rt:call("inits")))
        end)
    }
_EOC_

master_on();
workers(2);
no_long_string();
run_tests();

__DATA__

=== TEST 1: both workers load and call their own runtime
--- config
    location = /t {
        content_by_lua_block {
            ngx.sleep(0.2)
            ngx.say(select(2, ngx.load_ffi("ffi_test"):call("echo ok")))
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.3
--- grep_error_log eval: qr/worker call: \w+ inits: \d+/
--- grep_error_log_out
worker call: pong inits: 1
worker call: pong inits: 1



=== TEST 2: nginx -s reload with runtimes loaded: old workers exit, new ones call
--- config
    location = /after {
        content_by_lua_block {
            local ok, res = ngx.load_ffi("ffi_test"):call("echo after reload")
            ngx.print(ngx.worker.pid(), " ", res)
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            ngx.say(select(2, rt:call("echo before reload")))
            local f = assert(io.open(ngx.config.prefix() .. "logs/nginx.pid"))
            local master = f:read("*l")
            f:close()
            os.execute("kill -HUP " .. master)
            -- This old worker stops accepting; a new worker serves the next connection.
            ngx.sleep(0.5)
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", ngx.var.server_port))
            sock:send("GET /after HTTP/1.0\r\nHost: localhost\r\n\r\n")
            local resp = sock:receive("*a")
            local pid, res = resp:match("\r\n\r\n(%d+) (.*)$")
            ngx.say("new worker: ", tonumber(pid) ~= ngx.worker.pid(), ", ", res)
            ngx.say(select(2, rt:call("echo old worker still serves its request")))
        }
    }
--- request
GET /t
--- response_body
before reload
new worker: true, after reload
old worker still serves its request
--- wait: 0.5
--- error_log
gracefully shutting down
exited with code 0
