# vim:set ft= ts=4 sw=4 et fdm=marker:
# Requests that go away while their call is in flight: nothing leaks, nothing crashes.

use lib '.';
use t::TestFFI 'no_plan';

worker_connections(1024);
no_long_string();
run_tests();

__DATA__

=== TEST 1: the client closes while its call is in flight (lua_check_client_abort on)
--- config
    lua_check_client_abort on;
    location = /t {
        content_by_lua_block {
            local ok, res = ngx.load_ffi("ffi_test"):call("sleep 300 late")
            ngx.log(ngx.ERR, "must not be reached: ", res)
        }
    }
--- request
GET /t
--- abort
--- ignore_response
--- timeout: 0.1
--- wait: 0.5
--- error_log
client prematurely closed connection
--- no_error_log
must not be reached
[alert]
[crit]
[emerg]



=== TEST 2: 1000 aborted requests: live tasks back to 0
--- config
    lua_check_client_abort on;
    location = /slow {
        content_by_lua_block {
            -- "hold": answered only when the runtime is unloaded, long after the abort.
            ngx.load_ffi("ffi_test", "abort"):call("hold late")
            ngx.log(ngx.ERR, "must not be reached")
        }
    }
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty_ffi"
            local rt = ngx.load_ffi("ffi_test", "abort")
            local port = ngx.var.server_port
            for batch = 1, 10 do
                local socks = {}
                for i = 1, 100 do
                    local sock = ngx.socket.tcp()
                    assert(sock:connect("127.0.0.1", port))
                    assert(sock:send("GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n"))
                    socks[i] = sock
                end
                -- Let every request of the batch reach its call, then go away.
                for _ = 1, 500 do
                    if resty_ffi.live_tasks() >= batch * 100 then break end
                    ngx.sleep(0.01)
                end
                for i = 1, 100 do socks[i]:close() end
            end
            ngx.say("in flight: ", resty_ffi.live_tasks())
            ngx.sleep(0.1)
            -- Every request is gone; the runtime now answers the 1000 orphans.
            rt:__unload()
            for _ = 1, 300 do
                if resty_ffi.live_tasks() == 0 then break end
                ngx.sleep(0.01)
            end
            ngx.say("live: ", resty_ffi.live_tasks())
        }
    }
--- request
GET /t
--- response_body
in flight: 1000
live: 0
--- timeout: 20
--- error_log
client prematurely closed connection
--- no_error_log
must not be reached
[alert]
[crit]
[emerg]



=== TEST 3: ngx.exit while light threads wait on calls
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            for i = 1, 10 do
                ngx.thread.spawn(function() rt:call("sleep 100 x") end)
            end
            ngx.say("exiting with 10 calls in flight")
            ngx.exit(200)
        }
    }
    location = /live {
        content_by_lua_block {
            local resty_ffi = require "resty_ffi"
            for _ = 1, 100 do
                if resty_ffi.live_tasks() == 0 then break end
                ngx.sleep(0.01)
            end
            ngx.say("live: ", resty_ffi.live_tasks())
        }
    }
--- request eval
["GET /t", "GET /live"]
--- response_body eval
["exiting with 10 calls in flight\n", "live: 0\n"]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 4: a killed light thread, then its request ends: the late answer is freed
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty_ffi"
            local rt = ngx.load_ffi("ffi_test")
            local th = ngx.thread.spawn(function() return rt:call("sleep 30 x") end)
            ngx.thread.kill(th)
            -- The answer comes back while the request still runs: held until it ends.
            ngx.sleep(0.1)
            ngx.say("live while request runs: ", resty_ffi.live_tasks())
        }
    }
    location = /live {
        content_by_lua_block {
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request eval
["GET /t", "GET /live"]
--- response_body eval
["live while request runs: 1\n", "live: 0\n"]
--- no_error_log
[alert]
[crit]
[emerg]
