# vim:set ft= ts=4 sw=4 et fdm=marker:
# An inner nginx with two workers and runtimes loaded, driven by wrk, is reloaded, stopped
# gracefully (quit) or fast (TERM) while calls are in flight: old workers exit, nothing
# crashes, nothing alerts. The harness is t/lib/inner_nginx.lua.

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    init_by_lua_block {
        -- The inner nginx: two workers, a location calling the test runtime (2 ms a call).
        package.loaded.inner_conf = [[
$TEST_NGINX_LOAD_MODULE_LINES
user root;
worker_processes 2;
worker_shutdown_timeout 5s;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block { require "resty_ffi" }
    server {
        listen 127.0.0.1:PORT reuseport;
        location = /call {
            content_by_lua_block {
                local rt = ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_test.so", "threads=2")
                local ok, res = rt:call(ngx.var.arg_cmd or "sleep 2 x")
                ngx.say(ok and res or "failed")
            }
        }
    }
}
]]
    }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: reload, then quit, while wrk drives calls on two workers
--- config
    location = /t {
        content_by_lua_block {
            local inner_nginx = require "inner_nginx"
            local conf = package.loaded.inner_conf
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner", conf, 20291, "$TEST_NGINX_BINARY")
            assert(inner:start())
            ngx.sleep(0.3)
            inner:wrk("/call", 32, 4)
            ngx.sleep(1)

            -- Reload under load: the old workers finish their calls and exit.
            local old = inner:workers()
            local threads = 0
            for _, pid in ipairs(old) do
                threads = threads + tonumber(inner_nginx.sh("ls /proc/" .. pid .. "/task | wc -l"))
            end
            ngx.say("old workers: ", #old, ", with runtime threads: ", threads > #old)
            inner:signal("HUP")
            ngx.say("old workers exited after reload: ", inner_nginx.wait_for(function()
                for _, pid in ipairs(old) do
                    if inner_nginx.alive(pid) then return false end
                end
                return true
            end, 50))
            ngx.say("new workers: ", #inner:workers())

            -- Quit under load.
            ngx.say("nginx stopped after quit: ", inner:stop("QUIT"))
            ngx.sleep(3.2)   -- let wrk end
            ngx.say("alerts, crashes: ", inner:alerts())
            ngx.say("workers exited cleanly: ",
                    inner_nginx.count(inner:error_log(), "worker process %d+ exited with code 0"))
            ngx.say("wrk drove calls: ", inner:wrk_requests() > 100)
        }
    }
--- request
GET /t
--- response_body
old workers: 2, with runtime threads: true
old workers exited after reload: true
new workers: 2
nginx stopped after quit: true
alerts, crashes: 0
workers exited cleanly: 4
wrk drove calls: true
--- timeout: 30



=== TEST 2: a fast stop (TERM) with hundreds of calls in flight
--- config
    location = /t {
        content_by_lua_block {
            local inner_nginx = require "inner_nginx"
            local conf = package.loaded.inner_conf
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner", conf, 20292, "$TEST_NGINX_BINARY")
            assert(inner:start())
            ngx.sleep(0.3)
            -- Each call takes a second: when TERM comes, every connection has one in flight.
            inner:wrk("/call?cmd=sleep+1000+x", 64, 3)
            ngx.sleep(1.5)
            ngx.say("nginx stopped after TERM: ", inner:stop("TERM"))
            ngx.sleep(2)     -- let wrk end
            ngx.say("alerts, crashes: ", inner:alerts())
            ngx.say("workers exited: ",
                    inner_nginx.count(inner:error_log(), "worker process %d+ exited with code 0"))
        }
    }
--- request
GET /t
--- response_body
nginx stopped after TERM: true
alerts, crashes: 0
workers exited: 2
--- timeout: 30
