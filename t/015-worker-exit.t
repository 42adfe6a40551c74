# vim:set ft= ts=4 sw=4 et fdm=marker:
# A worker that is exiting (quit, reload) ends the calls still waiting on a runtime that
# never answers, at worker_shutdown_timeout: requests and timers alike, so quit and reload
# always complete. The harness is t/lib/inner_nginx.lua.

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    init_by_lua_block {
        -- The inner nginx: one worker; `hold` is answered only when the runtime unloads.
        package.loaded.inner_conf = [[
$TEST_NGINX_LOAD_MODULE_LINES
user root;
worker_processes 1;
worker_shutdown_timeout 1s;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block {
        require "resty_ffi"
        -- Timers that wait on calls nobody answers.
        for i = 1, 3 do
            ngx.timer.at(0, function()
                local rt = ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_test.so")
                local ok, err = rt:call("hold t" .. i)
                ngx.log(ngx.NOTICE, "timer call ended: ", tostring(ok), " ", tostring(err))
                -- A call made after the deadline is refused at once.
                ok, err = rt:call("echo late")
                ngx.log(ngx.NOTICE, "timer call after the deadline: ", tostring(ok), " ",
                        tostring(err))
            end)
        end
    }
    server {
        listen 127.0.0.1:PORT reuseport;
        location = /hold {
            content_by_lua_block {
                local rt = ngx.load_ffi("$TEST_NGINX_LIB_DIR/libffi_test.so")
                local ok, err = rt:call("hold r")
                ngx.log(ngx.NOTICE, "request call ended: ", tostring(ok), " ", tostring(err))
                ngx.say(tostring(ok), " ", tostring(err))
            }
        }
        location = /ping { return 200 "pong\n"; }
    }
}
]]
    }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: quit with requests and timers waiting on calls that are never answered
--- config
    location = /t {
        content_by_lua_block {
            local inner_nginx = require "inner_nginx"
            local conf = package.loaded.inner_conf
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner", conf, 20293, "$TEST_NGINX_BINARY")
            assert(inner:start())
            ngx.sleep(0.3)
            for _ = 1, 4 do
                os.execute("curl -s -m 10 http://127.0.0.1:20293/hold >/dev/null 2>&1 &")
            end
            ngx.sleep(0.5)
            local t0 = ngx.now()
            ngx.say("nginx stopped after quit: ", inner:stop("QUIT"))
            ngx.update_time()
            ngx.say("within 5 s: ", ngx.now() - t0 < 5)
            local log = inner:error_log()
            ngx.say("exit notice: ", log:find("worker exiting, %d+ call%(s%) in flight end in 1000 ms") ~= nil)
            ngx.say("timer calls ended: ", inner_nginx.count(log, "timer call ended: false worker exiting"))
            ngx.say("refused after the deadline: ", inner_nginx.count(log, "timer call after the deadline: false worker exiting"))
            ngx.say("alerts, crashes: ", inner:alerts())
            ngx.say("worker exited cleanly: ", inner_nginx.count(log, "worker process %d+ exited with code 0"))
        }
    }
--- request
GET /t
--- response_body
nginx stopped after quit: true
within 5 s: true
exit notice: true
timer calls ended: 3
refused after the deadline: 3
alerts, crashes: 0
worker exited cleanly: 1
--- timeout: 30



=== TEST 2: reload: the old worker ends its waiting calls and exits; the new one serves
--- config
    location = /t {
        content_by_lua_block {
            local inner_nginx = require "inner_nginx"
            local conf = package.loaded.inner_conf
            local inner = inner_nginx.new(ngx.config.prefix() .. "html/inner", conf, 20293, "$TEST_NGINX_BINARY")
            assert(inner:start())
            ngx.sleep(0.3)
            local old = inner:workers()
            for _ = 1, 4 do
                os.execute("curl -s -m 10 http://127.0.0.1:20293/hold >/dev/null 2>&1 &")
            end
            ngx.sleep(0.5)
            inner:signal("HUP")
            ngx.say("old worker exited after reload: ", inner_nginx.wait_for(function()
                return not inner_nginx.alive(old[1])
            end, 50))
            ngx.say("new worker answers: ", inner_nginx.sh("curl -s -m 5 http://127.0.0.1:20293/ping"))
            ngx.say("nginx stopped after quit: ", inner:stop("QUIT"))
            local log = inner:error_log()
            ngx.say("timer calls ended: ", inner_nginx.count(log, "timer call ended: false worker exiting"))
            ngx.say("alerts, crashes: ", inner:alerts())
        }
    }
--- request
GET /t
--- response_body
old worker exited after reload: true
new worker answers: pong

nginx stopped after quit: true
timer calls ended: 6
alerts, crashes: 0
--- timeout: 30
