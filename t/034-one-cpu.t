# Calls from a worker that shares one CPU with its runtime threads (worker_cpu_affinity, as
# production configs pin workers; the runtime's threads inherit the pin), and the fairness of
# waiting inside a call: a request whose calls follow each other never keeps another
# connection waiting until it ends, pinned or not.

use lib '.';
use t::TestFFI 'no_plan';

our $MainConfig = <<'_EOC_';
    worker_cpu_affinity 1;
_EOC_

our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block { require "resty_ffi" }
    lua_shared_dict flags 1m;
_EOC_

our $FairnessConfig = <<'_EOC_';
    location = /long {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            ngx.shared.flags:set("long_started", true)
            local i = 0
            -- Until the short request was served (or for a bound that would mean starvation).
            while not ngx.shared.flags:get("short_served") and i < 3000000 do
                i = i + 1
                local ok = rt:call("echo x")
                if not ok then break end
            end
            ngx.shared.flags:set("long_done", true)
            ngx.print("long: ", ngx.shared.flags:get("short_served") and "saw the short one" or "starved it")
        }
    }
    location = /short {
        content_by_lua_block {
            ngx.shared.flags:set("short_served", true)
            ngx.print("short: long still running: ", not ngx.shared.flags:get("long_done"))
        }
    }
    location = /t {
        content_by_lua_block {
            local long = ngx.thread.spawn(function()
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", ngx.var.server_port))
                assert(sock:send("GET /long HTTP/1.0\r\nHost: x\r\n\r\n"))
                sock:settimeout(60000)
                local body = sock:receive("*a")
                return body:match("long: [^\r\n]*$")
            end)
            -- The short request goes out once the long one calls (it runs in this worker).
            while not ngx.shared.flags:get("long_started") do ngx.sleep(0.001) end
            ngx.sleep(0.01)
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", ngx.var.server_port))
            assert(sock:send("GET /short HTTP/1.0\r\nHost: x\r\n\r\n"))
            sock:settimeout(60000)
            local body = sock:receive("*a")
            ngx.say(body:match("short: [^\r\n]*$"))
            local _, res = ngx.thread.wait(long)
            ngx.say(res)
        }
    }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: pinned: sequential calls of every speed, each with its own answer
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local bad = 0
            for i = 1, 3000 do
                local us = (i * 37) % 200
                if i % 3 == 0 then us = 0 end
                local ok, res = rt:call("spin " .. us .. " " .. i)
                if not ok or res ~= tostring(i) then
                    bad = bad + 1
                end
            end
            for i = 1, 20 do
                local ok, res = rt:call("sleep 1 " .. i)
                if not ok or res ~= tostring(i) then
                    bad = bad + 1
                end
            end
            ngx.say("bad: ", bad, ", live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
bad: 0, live: 0
--- timeout: 60



=== TEST 2: pinned: light threads with calls in flight together, then one at a time again
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local bad = 0
            local function worker(id)
                for i = 1, 300 do
                    local tag = id .. "-" .. i
                    local ok, res = rt:call("spin " .. ((i * id) % 50) .. " " .. tag)
                    if not ok or res ~= tag then bad = bad + 1 end
                end
            end
            for round = 1, 3 do
                local threads = {}
                for id = 1, 8 do
                    threads[id] = ngx.thread.spawn(worker, id)
                end
                for id = 1, 8 do
                    ngx.thread.wait(threads[id])
                end
                worker(100 + round)
            end
            ngx.say("bad: ", bad, ", live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
bad: 0, live: 0
--- timeout: 60



=== TEST 3: pinned: a timeout while the worker yields to the runtime, then calls go on
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test")
            local ok, err = rt:call("sleep 300 late", { timeout = 20 })
            ngx.say("slow: ", ok, " ", err)
            local bad = 0
            for i = 1, 500 do
                local ok2, res = rt:call("echo " .. i)
                if not ok2 or res ~= tostring(i) then bad = bad + 1 end
            end
            ngx.say("after: bad ", bad)
            ngx.sleep(0.4)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
slow: false timeout
after: bad 0
live: 0
--- timeout: 30



=== TEST 4: pinned: a request whose calls follow each other does not hold another connection up
--- config eval: $::FairnessConfig
--- request
GET /t
--- response_body
short: long still running: true
long: saw the short one
--- timeout: 90



=== TEST 5: unpinned: a request whose calls follow each other does not hold another connection up
--- main_config
--- config eval: $::FairnessConfig
--- request
GET /t
--- response_body
short: long still running: true
long: saw the short one
--- timeout: 90
