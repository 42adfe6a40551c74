# vim:set ft= ts=4 sw=4 et fdm=marker:
# nginx's signals with a JVM in every worker: reload (HUP), reopen (USR1), quit (QUIT).
# No [alert], old workers exit with code 0, no process is left behind.

use lib '.';
use t::TestFFI 'no_plan';

# Every block's main_config (t::TestFFI), unless it has its own.
our $MainConfig = <<'_EOC_';
    env CLASSPATH;
    env JAVA_OPTS;
_EOC_

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict java_signals 1m;
    init_worker_by_lua_block {
        require "resty_ffi"
        -- Every worker starts its JVM at once, from a timer.
        ngx.timer.at(0, function()
            local rt, err = ngx.load_ffi("ffi_java", "rtest.Commands,init,w")
            if not rt then
                ngx.log(ngx.ERR, "load failed: ", err)
                return
            end
            local _, jvm = rt:call("jvm")
            ngx.log(ngx.WARN, "worker JVM up: ", jvm:match("^%d+") == tostring(ngx.worker.pid()))
        end)
    }
_EOC_

our $Helpers = <<'_EOC_';
    location = /master-children {
        content_by_lua_block {
            -- The worker processes of the master, waiting up to 10 s for exiting ones to go.
            local f = assert(io.open(ngx.config.prefix() .. "logs/nginx.pid"))
            local master = f:read("*l")
            f:close()
            local want = tonumber(ngx.var.arg_want)
            local n
            for _ = 1, 200 do
                n = 0
                local p = io.popen("ls /proc")
                for pid in p:lines() do
                    if pid:match("^%d+$") then
                        local st = io.open("/proc/" .. pid .. "/stat")
                        if st then
                            local line = st:read("*l") or ""
                            st:close()
                            local ppid = line:match("^%d+ %(.-%) %S+ (%d+)")
                            if ppid == master then n = n + 1 end
                        end
                    end
                end
                p:close()
                if n == want then break end
                ngx.sleep(0.05)
            end
            ngx.say("children of the master: ", n)
        }
    }
_EOC_

our $ReloadConfig = <<'_EOC_';
    location = /after {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_java", "rtest.Commands,init,w")
            local _, jvm = rt:call("jvm")
            ngx.print(ngx.worker.pid(), " ", jvm:match("^%d+") == tostring(ngx.worker.pid()))
        }
    }
    location = /t {
        content_by_lua_block {
            ngx.sleep(0.3)
            local rt = ngx.load_ffi("ffi_java", "rtest.Commands,init,w")
            ngx.say(rt:call("echo before reload"))
            ngx.shared.java_signals:set("old", ngx.worker.pid())
            local f = assert(io.open(ngx.config.prefix() .. "logs/nginx.pid"))
            local master = f:read("*l")
            f:close()
            os.execute("kill -HUP " .. master)
            ngx.sleep(0.5)
            -- This old worker stops accepting; a new worker (with a new JVM) answers.
            local sock = ngx.socket.tcp()
            sock:settimeout(5000)
            assert(sock:connect("127.0.0.1", ngx.var.server_port))
            sock:send("GET /after HTTP/1.0\r\nHost: localhost\r\n\r\n")
            local resp = sock:receive("*a")
            local pid, own = resp:match("\r\n\r\n(%d+) (%a+)$")
            ngx.say("new worker: ", tonumber(pid) ~= ngx.worker.pid(), ", its own JVM: ", own)
            ngx.say(rt:call("echo the old worker's JVM still serves its request"))
        }
    }
    location = /old-gone {
        content_by_lua_block {
            local old = ngx.shared.java_signals:get("old")
            local gone = false
            for _ = 1, 200 do
                local st = io.open("/proc/" .. old .. "/stat")
                if not st then
                    gone = true
                    break
                end
                st:close()
                ngx.sleep(0.05)
            end
            ngx.say("old worker gone: ", gone)
            local f = assert(io.open(ngx.config.prefix() .. "logs/error.log"))
            local log = f:read("*a")
            f:close()
            ngx.say("it exited with code 0: ",
                    log:find("worker process " .. old .. " exited with code 0", 1, true) ~= nil)
            ngx.say("its JVM had started: ", log:find(" " .. old .. "#%d+: [^\n]*worker JVM up: true") ~= nil)
        }
    }
_EOC_

our $QuitConfig = <<'_EOC_';
    location = /t {
        content_by_lua_block {
            ngx.sleep(0.3)
            local rt = ngx.load_ffi("ffi_java", "rtest.Commands,init,w")
            ngx.say(rt:call("echo serving"))
            -- A non-daemon Java thread (it would keep a java process alive) and busy pools.
            ngx.say(rt:call("nondaemon"))
        }
    }
_EOC_

master_on();
workers(2);
no_long_string();
run_tests();

__DATA__

=== TEST 1: each worker has its own JVM; nginx -s reload (HUP): old workers exit with code 0, new ones start JVMs
--- config eval: $::Helpers . $::ReloadConfig
--- request eval
["GET /t", "GET /old-gone", "GET /master-children?want=2"]
--- response_body eval
["truebefore reload\nnew worker: true, its own JVM: true\ntruethe old worker's JVM still serves its request\n",
"old worker gone: true\nit exited with code 0: true\nits JVM had started: true\n",
"children of the master: 2\n"]
--- timeout: 15
--- wait: 0.3
--- no_error_log eval
[qr/\[(error|alert|crit|emerg)\]|exited on signal|worker JVM up: false/,
qr/\[(error|alert|crit|emerg)\]|exited on signal|worker JVM up: false/,
qr/\[(error|alert|crit|emerg)\]|exited on signal|worker JVM up: false/]



=== TEST 2: nginx -s reopen (USR1) with JVMs loaded: logs reopened, runtimes go on
--- config
    location = /t {
        content_by_lua_block {
            ngx.sleep(0.3)
            local rt = ngx.load_ffi("ffi_java", "rtest.Commands,init,w")
            ngx.say(rt:call("echo before reopen"))
            local f = assert(io.open(ngx.config.prefix() .. "logs/nginx.pid"))
            local master = f:read("*l")
            f:close()
            os.execute("kill -USR1 " .. master)
            ngx.sleep(0.3)
            ngx.say(rt:call("echo after reopen"))
            rt:call("jul WARNING a Java line after reopen")
        }
    }
--- request
GET /t
--- response_body
truebefore reopen
trueafter reopen
--- wait: 0.2
--- error_log
reopening logs
java rtest: a Java line after reopen
--- no_error_log
[error]
[alert]
[crit]
[emerg]
exited on signal



=== TEST 3: nginx -s quit (QUIT) with JVMs loaded and a non-daemon Java thread: workers exit with code 0
--- config eval: $::Helpers . $::QuitConfig
--- request eval
["GET /t", "GET /master-children?want=2"]
--- response_body eval
["trueserving\ntruestarted\n", "children of the master: 2\n"]
--- shutdown_error_log eval
[qr/worker process \d+ exited with code 0/, qr/exit$/m]
--- no_shutdown_error_log eval
[qr/\[(alert|crit|emerg)\]/, qr/exited on signal/]
--- no_error_log eval
[qr/\[(error|alert|crit|emerg)\]/, qr/\[(error|alert|crit|emerg)\]/]
