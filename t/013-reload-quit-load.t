# vim:set ft= ts=4 sw=4 et fdm=marker:
# An inner nginx with two workers and runtimes loaded, driven by wrk, is reloaded and then
# stopped with `quit`: old workers exit, nothing crashes, nothing alerts.

use Test::Nginx::Socket::Lua 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: reload, then quit, while wrk drives calls on two workers
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
--- config
    location = /t {
        content_by_lua_block {
            -- Test harness code: blocking os.execute is fine here, it is not the system under test.
            local prefix = ngx.config.prefix() .. "html/inner/"
            local nginx = os.getenv("TEST_NGINX_BINARY") or "nginx"
            local port = 20291
            os.execute("rm -rf " .. prefix .. " && mkdir -p " .. prefix .. "logs " .. prefix .. "conf")
            local conf = [[
load_module $TEST_NGINX_MODULES_DIR/ndk_http_module.so;
load_module $TEST_NGINX_MODULES_DIR/ngx_http_lua_module.so;
load_module $TEST_NGINX_LIB_DIR/ngx_http_resty_ffi_module.so;
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
                local ok, res = rt:call("sleep 2 " .. ngx.worker.pid())
                ngx.say(ok and res or "failed")
            }
        }
    }
}
]]
            local f = assert(io.open(prefix .. "conf/nginx.conf", "w"))
            f:write((conf:gsub("PORT", port)))
            f:close()

            local function sh(cmd)
                local p = io.popen(cmd)
                local out = p:read("*a")
                p:close()
                return out
            end
            local function master_pid()
                local fh = io.open(prefix .. "logs/nginx.pid")
                if not fh then return nil end
                local pid = fh:read("*l")
                fh:close()
                return pid
            end
            local function workers()
                local list = {}
                for pid in sh("pgrep -P " .. master_pid()):gmatch("%d+") do
                    list[#list + 1] = pid
                end
                return list
            end
            local function alive(pid)
                return os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0
            end

            assert(os.execute(nginx .. " -p " .. prefix .. " -c conf/nginx.conf") == 0)
            ngx.sleep(0.3)
            os.execute("wrk -t2 -c32 -d4s http://127.0.0.1:" .. port .. "/call > "
                       .. prefix .. "wrk.txt 2>&1 &")
            ngx.sleep(1)

            -- Reload under load: the old workers finish their calls and exit.
            local old = workers()
            local threads = 0
            for _, pid in ipairs(old) do
                threads = threads + tonumber(sh("ls /proc/" .. pid .. "/task | wc -l"))
            end
            ngx.say("old workers: ", #old, ", with runtime threads: ", threads > #old)
            os.execute("kill -HUP " .. master_pid())
            local gone = false
            for _ = 1, 50 do
                ngx.sleep(0.1)
                gone = true
                for _, pid in ipairs(old) do
                    if alive(pid) then gone = false end
                end
                if gone then break end
            end
            ngx.say("old workers exited after reload: ", gone)
            ngx.say("new workers: ", #workers())

            -- Quit under load.
            local master = master_pid()
            os.execute("kill -QUIT " .. master)
            local stopped = false
            for _ = 1, 80 do
                ngx.sleep(0.1)
                if not alive(master) then stopped = true break end
            end
            ngx.say("nginx stopped after quit: ", stopped)
            ngx.sleep(3.2)   -- let wrk end

            local log = sh("cat " .. prefix .. "logs/error.log")
            local bad = 0
            for _ in log:gmatch("%[alert%]") do bad = bad + 1 end
            for _ in log:gmatch("%[crit%]") do bad = bad + 1 end
            for _ in log:gmatch("%[emerg%]") do bad = bad + 1 end
            for _ in log:gmatch("exited on signal") do bad = bad + 1 end
            ngx.say("alerts, crashes: ", bad)
            local exits = 0
            for _ in log:gmatch("worker process %d+ exited with code 0") do exits = exits + 1 end
            ngx.say("workers exited cleanly: ", exits)
            local reqs = tonumber(sh("cat " .. prefix .. "wrk.txt"):match("(%d+) requests in") or 0)
            ngx.say("wrk drove calls: ", reqs > 100)
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
--- no_error_log
[error]
[alert]
[crit]
[emerg]
