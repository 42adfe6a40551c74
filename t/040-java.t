# vim:set ft= ts=4 sw=4 et fdm=marker:
# Java runtimes: libffi_java.so (one JVM per worker), the resty.ffi Java API, the original's
# jnr-ffi way, code reload with "?", failures, logging, JVM options and JAVA_HOME.
#
# runtimes/java/test-env.sh exports CLASSPATH (test runtimes runtimes/java/test-runtimes, the examples) and JAVA_OPTS;
# workers see them through `env CLASSPATH; env JAVA_OPTS;`.

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    lua_shared_dict java_test 1m;
    init_worker_by_lua_block {
        require "resty_ffi"
        local helpers = require "test_helpers"
        -- Waits until rtest.Cancels' handlers saw n cancellations (all flagged).
        function wait_for_seen(rt, n)
            return helpers.wait_for_answer(rt, "seen", "cancelled=" .. n .. " flagged=" .. n)
        end
        abort_after = helpers.abort_after
    }
_EOC_

# Every block's main_config (t::TestFFI), unless it has its own.
our $MainConfig = <<'_EOC_';
    env CLASSPATH;
    env JAVA_OPTS;
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: the example echo runtime (demo.echo.App on resty.ffi.Server); cfg is its prefix
--- config
    location = /t {
        content_by_lua_block {
            local rt, err = ngx.load_ffi("ffi_java", "demo.echo.App,init,echo: ")
            if not rt then
                ngx.say("load failed: ", err)
                return
            end
            ngx.say(rt:echo("hello"))
            ngx.say(rt:anything("again, with, commas"))
            local other = ngx.load_ffi("ffi_java", "demo.echo.App,init,π ")
            ngx.say(other:echo("unicode cfg"))
            -- The original's Java-side loader form.
            local nested = ngx.load_ffi("ffi_java", "resty.ffi.Loader,init,demo.echo.App?,init,nested: ")
            ngx.say(nested:echo("hi"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
trueecho: hello
trueecho: again, with, commas
trueπ unicode cfg
truenested: hi
live: 0



=== TEST 2: binary payloads both ways: every byte value, NUL bytes, 1 MiB, empty, nil
--- config
    location = /t {
        content_by_lua_block {
            local echo = ngx.load_ffi("ffi_java", "demo.echo.App,init,")
            local cmd = ngx.load_ffi("ffi_java", "rtest.Commands,init,bin")
            local t = {}
            for i = 0, 255 do t[#t + 1] = string.char(i) end
            local all = table.concat(t)
            local ok, res = echo:call(all)
            ngx.say("256 byte values: ", ok and res == all)
            ok, res = cmd:call("rev " .. all)
            ngx.say("reversed by Java: ", ok and res == all:reverse())
            ok, res = echo:call("a\0b\0")
            ngx.say("NUL bytes kept: ", ok and res == "a\0b\0", " ", #res)
            local big = string.rep("0123456789abcdef", 65536)
            ok, res = echo:call(big)
            ngx.say("1 MiB: ", ok and res == big)
            ok, res = cmd:call("big 3000000")
            ngx.say("3 MB answer: ", ok and #res == 3000000 and res:sub(1, 3) == "abc")
            ok, res = echo:call("")
            ngx.say("empty request: ", ok, " [", res, "]")
            ngx.say("empty answer: ", cmd:call("empty"))
            ok, res = cmd:call("null")
            ngx.say("null answer: ", ok, " ", type(res))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
256 byte values: true
reversed by Java: true
NUL bytes kept: true 4
1 MiB: true
3 MB answer: true
empty request: true []
empty answer: true
null answer: true nil
live: 0



=== TEST 3: a throwing handler answers with an error and the runtime keeps serving
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_java", "rtest.Commands,init,x")
            ngx.say(rt:call("throw boom"))
            ngx.say(rt:call("echo still serving"))
            ngx.say(rt:call("fail 7 went wrong"))
            ngx.say(rt:call("fail 0 no code of its own"))
            ngx.say(rt:call("bogus"))
            for i = 1, 20 do
                local ok = rt:call("throw again " .. i)
                if ok then ngx.say("unexpected success") end
            end
            ngx.say(rt:call("echo after 21 exceptions"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
false-2java.lang.IllegalStateException: boom
truestill serving
false7went wrong
false-1no code of its own
false22unknown command bogus
trueafter 21 exceptions
live: 0
--- wait: 0.1
--- error_log eval
qr/\[error\] .*\[resty_ffi\] java resty.ffi.Server: handler failed: java.lang.IllegalStateException: boom at rtest.Commands.handle\(Commands.java:\d+\)/
--- no_error_log
went wrong
unknown command
[alert]
[crit]
[emerg]



=== TEST 4: resty.ffi.Server: a call held on one pool thread while the others serve
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_java", "rtest.Commands,init,pool")
            local held = ngx.thread.spawn(function() return rt:call("hold") end)
            local served = 0
            for i = 1, 30 do
                local ok, res = rt:call("echo " .. i)
                if ok and res == tostring(i) then served = served + 1 end
            end
            ngx.say("served while one call is held: ", served)
            ngx.say(rt:call("release"))
            ngx.say(ngx.thread.wait(held))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
served while one call is held: 30
truereleased
truetrueheld call answered
live: 0



=== TEST 5: Server.serveAsync: 200 calls in flight on one polling thread, answered by CompletableFutures
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_java", "rtest.Async,init,")
            local threads = {}
            for i = 1, 200 do
                threads[i] = ngx.thread.spawn(function() return rt:call("hold " .. i) end)
            end
            -- Every hold is parked in Java (no thread waits for it); "now" is served meanwhile.
            ngx.say(rt:call("now served meanwhile"))
            local released = 0
            while released < 200 do
                local ok, n = rt:call("release")
                released = released + tonumber(n)
                if tonumber(n) == 0 then ngx.sleep(0.01) end
            end
            local good = 0
            for i = 1, 200 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and res == i .. " released" then good = good + 1 end
            end
            ngx.say("answered: ", good)
            ngx.say(rt:call("fail x"))
            ngx.say(rt:call("explode y"))
            ngx.say(rt:call("throw z"))
            ngx.say(rt:call("now still serving"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
trueserved meanwhile
answered: 200
false9async x
false-2java.lang.UnsupportedOperationException: async y
false-2java.lang.IllegalArgumentException: sync z
truestill serving
live: 0
--- wait: 0.1
--- error_log
handler failed: java.lang.UnsupportedOperationException: async y
handler failed: java.lang.IllegalArgumentException: sync z
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 6: many runtimes share the worker's one JVM; each has its own queue
--- config
    location = /t {
        content_by_lua_block {
            local a = ngx.load_ffi("ffi_java", "rtest.Commands,init,a")
            local b = ngx.load_ffi("ffi_java", "rtest.Commands,init,b")
            local async = ngx.load_ffi("ffi_java", "rtest.Async,init,")
            local jnr = ngx.load_ffi("ffi_java", "demo.jnr.App,init,")
            ngx.say(select(2, a:call("whoami")), " ", select(2, b:call("whoami")))
            local _, ja = a:call("jvm")
            local _, jb = b:call("jvm")
            ngx.say("one JVM: ", ja == jb, ", JVM pid is the worker's: ",
                    ja:match("^%d+") == tostring(ngx.worker.pid()))
            ngx.say("inits seen by every runtime: ", select(2, a:call("inits")))
            -- A call held in runtime a does not stop runtime b or the jnr-ffi runtime.
            local held = ngx.thread.spawn(function() return a:call("hold") end)
            ngx.say(b:call("echo b serves"))
            ngx.say(jnr:call("jnr serves"))
            ngx.say(async:call("now async serves"))
            ngx.say(b:call("release"))
            ngx.say(ngx.thread.wait(held))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
a b
one JVM: true, JVM pid is the worker's: true
inits seen by every runtime: 3
trueb serves
truejnr serves
trueasync serves
truereleased
truetrueheld call answered
live: 0



=== TEST 7: init failures: rc != 0, exceptions, bad class/method/cfg; load_ffi's error says why
--- config
    location = /t {
        content_by_lua_block {
            local cfgs = {
                "rtest.BadInit,refuse,",
                "rtest.BadInit,explode,bad cfg",
                "rtest.BadInit,notStatic,",
                "rtest.BadInit,wrongReturn,",
                "rtest.BadInit,noSuchMethod,",
                "rtest.BrokenStatic,init,",
                "rtest.NoSuchClass,init,",
                "rtest.NoSuchClass?,init,",
                "no-comma-at-all",
                ",init,",
            }
            local function show(err)
                -- Stack frames and the class path vary between machines and JDKs (and
                -- load_ffi's error is cut at 255 bytes).
                err = err:gsub(" at [^;]*$", "")
                err = err:gsub("class path: %S+", "class path: CP")
                return err
            end
            for _, cfg in ipairs(cfgs) do
                local rt, err = ngx.load_ffi("ffi_java", cfg)
                ngx.say(cfg, " -> ", rt == nil, " ", show(err))
            end
            ngx.say("nil cfg -> ", select(2, ngx.load_ffi("ffi_java")))
            local rt = ngx.load_ffi("ffi_java", "rtest.Commands,init,after")
            ngx.say(rt:call("echo the JVM still works"))
        }
    }
--- request
GET /t
--- response_body
rtest.BadInit,refuse, -> true libffi_init of libffi_java.so failed: rc=3: ffi_java: rtest.BadInit.refuse(cfg, tq) returned 3
rtest.BadInit,explode,bad cfg -> true libffi_init of libffi_java.so failed: rc=1: ffi_java: rtest.BadInit.explode threw java.lang.IllegalStateException: init refused: bad cfg; caused by java.io.IOException: disk on fire
rtest.BadInit,notStatic, -> true libffi_init of libffi_java.so failed: rc=1: ffi_java: class rtest.BadInit has no method "static int notStatic(String cfg, long tq)"
rtest.BadInit,wrongReturn, -> true libffi_init of libffi_java.so failed: rc=1: ffi_java: class rtest.BadInit has no method "static int wrongReturn(String cfg, long tq)"
rtest.BadInit,noSuchMethod, -> true libffi_init of libffi_java.so failed: rc=1: ffi_java: class rtest.BadInit has no method "static int noSuchMethod(String cfg, long tq)"
rtest.BrokenStatic,init, -> true libffi_init of libffi_java.so failed: rc=1: ffi_java: cannot load rtest.BrokenStatic.init: java.lang.ExceptionInInitializerError; caused by java.lang.NumberFormatException: For input string: "not a number"
rtest.NoSuchClass,init, -> true libffi_init of libffi_java.so failed: rc=1: ffi_java: class rtest.NoSuchClass not found (set CLASSPATH, and `env CLASSPATH;` in nginx.conf); class path: CP
rtest.NoSuchClass?,init, -> true libffi_init of libffi_java.so failed: rc=1: ffi_java: class rtest.NoSuchClass not found (set CLASSPATH, and `env CLASSPATH;` in nginx.conf); class path: CP
no-comma-at-all -> true libffi_init of libffi_java.so failed: rc=1: ffi_java: bad cfg "no-comma-at-all": expected "<class>[?],<method>,<cfg>"
,init, -> true libffi_init of libffi_java.so failed: rc=1: ffi_java: bad cfg ",init,": expected "<class>[?],<method>,<cfg>"
nil cfg -> libffi_init of libffi_java.so failed: rc=1: ffi_java: cfg is required: "<class>[?],<method>,<cfg>"
truethe JVM still works
--- wait: 0.1
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] ffi_java: rtest.BadInit.refuse\(cfg, tq\) returned 3/,
qr/\[error\] .*\[resty_ffi\] ffi_java: rtest.BadInit.explode threw java.lang.IllegalStateException: init refused: bad cfg; caused by java.io.IOException: disk on fire at rtest.BadInit.explode\(BadInit.java:\d+\)/,
qr/\[error\] .*\[resty_ffi\] ffi_java: class rtest.NoSuchClass not found \(set CLASSPATH, and `env CLASSPATH;` in nginx.conf\); class path: \S+resty-ffi.jar:/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 8: unload: queued calls are still answered, pollers see null and end, threads go away
--- config
    location = /t {
        content_by_lua_block {
            local function wait_threads(rt, prefix, want)
                for _ = 1, 200 do
                    local _, n = rt:call("threads " .. prefix)
                    if tonumber(n) == want then return want end
                    ngx.sleep(0.02)
                end
                return select(2, rt:call("threads " .. prefix))
            end
            local cmd = ngx.load_ffi("ffi_java", "rtest.Commands,init,main")
            local other = ngx.load_ffi("ffi_java", "rtest.Commands,init,other")
            local raw = ngx.load_ffi("ffi_java", "rtest.Raw,init,r1")
            ngx.say(raw:call("twice"))
            ngx.say("raw pollers: ", wait_threads(cmd, "rtest-raw-r1-", 2))
            -- A call taken by Java before the unload is still answered after it.
            local held = ngx.thread.spawn(function() return other:call("hold") end)
            ngx.sleep(0.05)
            ngx.say(other:__unload())
            ngx.say(other:call("echo after unload"))
            ngx.say(cmd:call("release"))
            ngx.say(ngx.thread.wait(held))
            ngx.say(raw:__unload())
            ngx.say(raw:call("gone"))
            ngx.say(raw:__unload())
            ngx.say("raw pollers after unload: ", wait_threads(cmd, "rtest-raw-r1-", 0))
            -- One polling thread per Server runtime: the unloaded one's has ended.
            ngx.say("Server pollers: ", wait_threads(cmd, "-poll", 1))
            -- Loading the same cfg again gives a new runtime.
            other = ngx.load_ffi("ffi_java", "rtest.Commands,init,other")
            ngx.say(other:call("whoami"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
trueraw twice
raw pollers: 2
true
falseruntime unloaded
truereleased
truetrueheld call answered
true
falseruntime unloaded
falseruntime unloaded
raw pollers after unload: 0
Server pollers: 1
trueother
live: 0
--- wait: 0.1
--- error_log
rtest.Raw: second answer refused: task already answered
rtest.Raw r1: poller 1 sees the queue closed: true
rtest.Raw r1: poller 2 sees the queue closed: true



=== TEST 9: "?" reloads the class's package from the class path; without it the first version stays
--- config
    location = /t {
        content_by_lua_block {
            local live = "$TEST_NGINX_JAVA_RELOAD_DIR"
            local function install(version_dir)
                assert(os.execute("rm -rf '" .. live .. "/rtest' && cp -r '" .. version_dir
                                  .. "/rtest' '" .. live .. "/'"))
            end
            local function once(cfg)
                local rt, err = ngx.load_ffi("ffi_java", cfg)
                if not rt then return "load failed: " .. err end
                local _, res = rt:call("which")
                rt:__unload()
                return res
            end
            install("$TEST_NGINX_JAVA_RELOAD_V1")
            ngx.say("plain:  ", once("rtest.reload.Version,init,"))
            ngx.say("reload: ", once("rtest.reload.Version?,init,"))
            install("$TEST_NGINX_JAVA_RELOAD_V2")
            ngx.say("reload: ", once("rtest.reload.Version?,init,"))
            ngx.say("plain:  ", once("rtest.reload.Version,init,"))
            install("$TEST_NGINX_JAVA_RELOAD_V1")
            ngx.say("reload: ", once("rtest.reload.Version?,init,"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
plain:  v1 app
reload: v1 resty-ffi-reload:rtest.reload.Version
reload: v2 resty-ffi-reload:rtest.reload.Version
plain:  v1 app
reload: v1 resty-ffi-reload:rtest.reload.Version
live: 0



=== TEST 10: java.util.logging, System.Logger and resty.ffi.NginxLog go to error.log at nginx levels
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_java", "rtest.Commands,init,log")
            rt:call("jul SEVERE a severe line")
            rt:call("jul WARNING a warning line")
            rt:call("jul INFO an info line")
            rt:call("jul FINE a fine line")
            rt:call("jul-exception the cause")
            rt:call("syslog a System.Logger line")
            rt:call("nginxlog 6 a notice line")
            rt:call("nginxlog 8 a debug line")
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] java rtest: a severe line/,
qr/\[warn\] .*\[resty_ffi\] java rtest: a warning line/,
qr/\[info\] .*\[resty_ffi\] java rtest: an info line/,
qr/\[error\] .*\[resty_ffi\] java rtest: with exception: java.lang.IllegalArgumentException: the cause at rtest.Commands/,
qr/\[warn\] .*\[resty_ffi\] java rtest.sys: a System.Logger line/,
qr/\[notice\] .*\[resty_ffi\] a notice line/,
qr/\[debug\] .*\[resty_ffi\] a debug line/,
]
--- no_error_log
a fine line
[alert]
[crit]
[emerg]



=== TEST 11: JVM options: CLASSPATH wildcards, JAVA_OPTS, -Xrs; JVM threads leave nginx's signals to the worker thread
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_java", "rtest.Commands,init,opts")
            local _, args = rt:call("args")
            ngx.say("-Xrs: ", args:find("-Xrs", 1, true) ~= nil)
            ngx.say("JAVA_OPTS: ", select(2, rt:call("prop resty.test")))
            local _, cp = rt:call("prop java.class.path")
            ngx.say("API jar first: ", cp:match("^[^:]*/resty%-ffi%.jar:") ~= nil)
            ngx.say("lib/* expanded: ", cp:find("/jnr%-echo/lib/jnr%-ffi%-[%d.]+%.jar") ~= nil)
            -- SigBlk of a Java handler thread: nginx's signals are blocked there.
            local bit = require "bit"
            local _, hex = rt:call("sigblk")
            local mask = tonumber(hex:sub(-8), 16)
            local names = { HUP = 1, INT = 2, QUIT = 3, USR1 = 10, ALRM = 14, TERM = 15,
                            CHLD = 17, WINCH = 28, IO = 29 }
            local blocked = {}
            for _, name in ipairs({ "HUP", "INT", "QUIT", "USR1", "ALRM", "TERM", "CHLD", "WINCH", "IO" }) do
                if bit.band(mask, bit.lshift(1, names[name] - 1)) ~= 0 then
                    blocked[#blocked + 1] = name
                end
            end
            ngx.say("blocked in Java threads: ", table.concat(blocked, " "))
        }
    }
--- request
GET /t
--- response_body
-Xrs: true
JAVA_OPTS: yes
API jar first: true
lib/* expanded: true
blocked in Java threads: HUP INT QUIT USR1 ALRM TERM CHLD WINCH IO



=== TEST 12: JAVA_HOME picks the JDK (env JAVA_HOME=...;)
--- main_config
    env CLASSPATH;
    env JAVA_OPTS;
    env JAVA_HOME=$TEST_NGINX_JAVA_HOME;
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_java", "rtest.Commands,init,home")
            ngx.say(rt:call("prop java.home"))
        }
    }
--- request
GET /t
--- response_body
true$TEST_NGINX_JAVA_HOME



=== TEST 13: a JAVA_HOME without a JVM fails every load with a clear error
--- main_config
    env CLASSPATH;
    env JAVA_HOME=/nonexistent/jdk;
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.load_ffi("ffi_java", "rtest.Commands,init,a"))
            ngx.say(ngx.load_ffi("ffi_java", "rtest.Commands,init,b"))
            ngx.say(ngx.load_ffi("ffi_test"):call("echo the worker is fine"))
        }
    }
--- request
GET /t
--- response_body
nillibffi_init of libffi_java.so failed: rc=1: ffi_java: JAVA_HOME=/nonexistent/jdk has no libjvm.so (looked for lib/server/libjvm.so, jre/lib/amd64/server/libjvm.so, lib/client/libjvm.so)
nillibffi_init of libffi_java.so failed: rc=1: ffi_java: no JVM in this worker: it failed to start: JAVA_HOME=/nonexistent/jdk has no libjvm.so (looked for lib/server/libjvm.so, jre/lib/amd64/server/libjvm.so, lib/client/libjvm.so)
truethe worker is fine
--- wait: 0.1
--- error_log
ffi_java: JAVA_HOME=/nonexistent/jdk has no libjvm.so
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 14: bad JAVA_OPTS: the JVM refuses to start, the worker goes on
--- main_config
    env CLASSPATH;
    env "JAVA_OPTS=-Xmx64m -Xno-such-option";
--- config
    location = /t {
        content_by_lua_block {
            -- load_ffi's error is the start of the message; error.log has all of it.
            local function show(err)
                return err:match("^(.-); libjvm: ")
            end
            ngx.say(show(select(2, ngx.load_ffi("ffi_java", "rtest.Commands,init,a"))))
            ngx.say(show(select(2, ngx.load_ffi("ffi_java", "rtest.Commands,init,b"))))
            ngx.say(ngx.load_ffi("ffi_test"):call("echo the worker is fine"))
        }
    }
--- request
GET /t
--- response_body
libffi_init of libffi_java.so failed: rc=1: ffi_java: cannot start the JVM: JNI_CreateJavaVM returned -1 (JNI_ERR), see the JVM's message above in error.log
libffi_init of libffi_java.so failed: rc=1: ffi_java: no JVM in this worker: it failed to start: cannot start the JVM: JNI_CreateJavaVM returned -1 (JNI_ERR), see the JVM's message above in error.log
truethe worker is fine
--- wait: 0.1
--- error_log eval
[
qr/Unrecognized option: -Xno-such-option/,
qr/\[error\] .*ffi_java: cannot start the JVM: JNI_CreateJavaVM returned -1 \(JNI_ERR\), see the JVM's message above in error.log; libjvm: \S+libjvm.so; options: -XX:-UsePerfData -XX:\+DisplayVMOutputToStderr -Xmx64m -Xno-such-option -Djava.class.path=<\d+ entries> -Xrs/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 15: a JVM that aborts while starting (it would exit the process) leaves the worker running
--- main_config
    env CLASSPATH;
    env JAVA_OPTS=-Xmx1k;
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.load_ffi("ffi_java", "rtest.Commands,init,a"))
            ngx.say(ngx.load_ffi("ffi_java", "rtest.Commands,init,b"))
            ngx.say(ngx.load_ffi("ffi_test"):call("echo the worker is fine"))
        }
    }
--- request
GET /t
--- response_body
nillibffi_init of libffi_java.so failed: rc=1: ffi_java: the JVM aborted while starting (its own message is above in error.log); this worker runs without Java
nillibffi_init of libffi_java.so failed: rc=1: ffi_java: the JVM aborted while starting (its own message is above in error.log); this worker runs without Java
truethe worker is fine
--- wait: 0.1
--- error_log
Too small maximum heap
ffi_java: the JVM aborted while starting (its own message is above in error.log); this worker runs without Java
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 16: a runtime written the original's way: jnr-ffi (Maven Central) calling the C task API
--- config
    location = /t {
        content_by_lua_block {
            local rt, err = ngx.load_ffi("ffi_java", "demo.jnr.App,init,")
            if not rt then
                ngx.say("load failed: ", err)
                return
            end
            ngx.say(rt:echo("hello jnr"))
            local t = {}
            for i = 0, 255 do t[#t + 1] = string.char(i) end
            local all = table.concat(t):rep(100)
            local ok, res = rt:echo(all)
            ngx.say("binary: ", ok and res == all)
            ok, res = rt:echo("")
            ngx.say("empty: ", ok, " [", res, "]")
            local threads = {}
            for i = 1, 50 do
                threads[i] = ngx.thread.spawn(function() return rt:echo("call " .. i) end)
            end
            local good = 0
            for i = 1, 50 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and res == "call " .. i then good = good + 1 end
            end
            ngx.say("concurrent calls: ", good)
            rt:__unload()
            ngx.say(rt:echo("after unload"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
truehello jnr
binary: true
empty: true []
concurrent calls: 50
falseruntime unloaded
live: 0



=== TEST 17: the HttpClient example: many HTTP calls in flight to an upstream in the same nginx
--- config
    location = /upstream/echo {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.print(ngx.req.get_method(), " ", ngx.var.arg_n or "", " ", ngx.req.get_body_data() or "")
        }
    }
    location = /upstream/hold {
        content_by_lua_block {
            local dict = ngx.shared.java_test
            for _ = 1, 500 do
                if dict:get("go") then
                    ngx.print("released by /upstream/go")
                    return
                end
                ngx.sleep(0.01)
            end
            ngx.print("never released")
        }
    }
    location = /upstream/go {
        content_by_lua_block {
            ngx.shared.java_test:set("go", true)
            ngx.print("go")
        }
    }
    location = /t {
        content_by_lua_block {
            local http, err = ngx.load_ffi("ffi_java", "demo.http.App,init,3000")
            if not http then
                ngx.say("load failed: ", err)
                return
            end
            local base = "http://127.0.0.1:" .. ngx.var.server_port
            -- /upstream/hold answers only after /upstream/go was called: both are in flight.
            local held = ngx.thread.spawn(function()
                return http:fetch("GET " .. base .. "/upstream/hold")
            end)
            ngx.say(http:fetch("GET " .. base .. "/upstream/go"))
            ngx.say(ngx.thread.wait(held))
            local threads = {}
            for i = 1, 40 do
                threads[i] = ngx.thread.spawn(function()
                    return http:fetch("GET " .. base .. "/upstream/echo?n=" .. i)
                end)
            end
            local good = 0
            for i = 1, 40 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and res == "200\nGET " .. i .. " " then good = good + 1 end
            end
            ngx.say("parallel fetches: ", good)
            ngx.say(http:fetch("POST " .. base .. "/upstream/echo?n=p\na posted body"))
            ngx.say(http:fetch("nonsense"))
            local ok, rc, msg = http:fetch("GET http://127.0.0.1:1/")
            ngx.say(ok, " ", rc, " ", msg:match("^upstream failed: java.net.ConnectException") ~= nil)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- timeout: 15
--- response_body
true200
go
truetrue200
released by /upstream/go
parallel fetches: 40
true200
POST p a posted body
false400bad request: "<METHOD> <URL>" expected
false 502 true
live: 0
--- wait: 0.1
--- error_log eval
qr/\[info\] .*\[resty_ffi\] java demo.http: HttpClient runtime ready, timeout 3000 ms/



=== TEST 18: Errors and odd Throwables from handlers (StackOverflowError, a real OutOfMemoryError, ExceptionInInitializerError, a bare Throwable, exceptions whose toString throws, failed and broken stages) answer false, -2 (RC_PANICKED), msg (a TaskException keeps its rc; a request too big for the heap answers -4, RC_NO_MEMORY) and the runtime keeps serving
--- config
    location = /t {
        content_by_lua_block {
            local cmds = { "soe", "oom", "eiie", "eiie", "error", "myerror", "throwable",
                           "badtostring", "badtask" }
            local async_cmds = { "fail-soe", "fail-badtostring", "fail-myerror", "badstage" }
            local huge = string.rep("x", 100 * 1024 * 1024)
            for _, mode in ipairs({ "sync", "async" }) do
                local rt, err = ngx.load_ffi("ffi_java", "rtest.Throwers,init," .. mode, { timeout = 2000 })
                if not rt then
                    ngx.say("load failed: ", err)
                    return
                end
                local list = cmds
                if mode == "async" then
                    list = { unpack(cmds) }
                    for _, c in ipairs(async_cmds) do list[#list + 1] = c end
                end
                for _, cmd in ipairs(list) do
                    ngx.say(mode, " ", cmd, ": ", rt:call(cmd))
                    ngx.say(mode, " then: ", rt:call("echo ok"))
                end
                -- bigger than the heap (-Xmx96m): no byte[] can hold it
                ngx.say(mode, " 100 MiB request: ", rt:call(huge))
                ngx.say(mode, " then: ", rt:call("echo ok"))
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- timeout: 60
--- response_body
sync soe: false-2java.lang.StackOverflowError
sync then: trueok
sync oom: false-2java.lang.OutOfMemoryError: Java heap space
sync then: trueok
sync eiie: false-2java.lang.ExceptionInInitializerError
sync then: trueok
sync eiie: false-2java.lang.NoClassDefFoundError: Could not initialize class rtest.Throwers$BrokenSync
sync then: trueok
sync error: false-2java.lang.AssertionError: asserted
sync then: trueok
sync myerror: false-2rtest.Throwers$MyError: mine
sync then: trueok
sync throwable: false-2java.lang.Throwable: bare
sync then: trueok
sync badtostring: false-2rtest.Throwers$BadToString: <toString() failed>
sync then: trueok
sync badtask: false5rtest.Throwers$BadTaskException: <toString() failed>
sync then: trueok
sync 100 MiB request: false-4cannot read the request: java.lang.OutOfMemoryError: no heap for a request of 104857600 bytes
sync then: trueok
async soe: false-2java.lang.StackOverflowError
async then: trueok
async oom: false-2java.lang.OutOfMemoryError: Java heap space
async then: trueok
async eiie: false-2java.lang.ExceptionInInitializerError
async then: trueok
async eiie: false-2java.lang.NoClassDefFoundError: Could not initialize class rtest.Throwers$BrokenAsync
async then: trueok
async error: false-2java.lang.AssertionError: asserted
async then: trueok
async myerror: false-2rtest.Throwers$MyError: mine
async then: trueok
async throwable: false-2java.lang.Throwable: bare
async then: trueok
async badtostring: false-2rtest.Throwers$BadToString: <toString() failed>
async then: trueok
async badtask: false5rtest.Throwers$BadTaskException: <toString() failed>
async then: trueok
async fail-soe: false-2java.lang.StackOverflowError: in a stage
async then: trueok
async fail-badtostring: false-2rtest.Throwers$BadToString: <toString() failed>
async then: trueok
async fail-myerror: false-2rtest.Throwers$MyError: later
async then: trueok
async badstage: false-2java.lang.IllegalStateException: whenComplete refused
async then: trueok
async 100 MiB request: false-4cannot read the request: java.lang.OutOfMemoryError: no heap for a request of 104857600 bytes
async then: trueok
live: 0
--- wait: 0.1
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] java resty.ffi.Server: handler failed: java.lang.StackOverflowError at rtest.Throwers.recurse/,
qr/\[error\] .*\[resty_ffi\] java resty.ffi.Server: handler failed: java.lang.OutOfMemoryError: Java heap space/,
qr/\[error\] .*\[resty_ffi\] java resty.ffi.Server: handler failed: java.lang.ExceptionInInitializerError; caused by java.lang.NumberFormatException/,
qr/\[error\] .*\[resty_ffi\] java resty.ffi.Server: handler failed: rtest.Throwers\$BadToString: <toString\(\) failed>/,
qr/\[error\] .*\[resty_ffi\] java resty.ffi.TaskQueue: cannot read a request: java.lang.OutOfMemoryError: no heap for a request of 104857600 bytes/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 19: deadlines: Task.timeLeft() in Server.serve and serveAsync handlers (Task.current()); empty without a timeout
--- main_config eval: $::MainConfig
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(ngx.load_ffi("ffi_java", "rtest.Cancels,init," .. mode))
                local left = tonumber(select(2, rt:call("deadline", { timeout = 5000 })))
                ngx.say(mode, " 5 s timeout: deadline in 4..5 s: ", left > 4000 and left <= 5000)
                resty_ffi.set_default_timeout(0)
                ngx.say(mode, " no timeout: ", select(2, rt:call("deadline")))
                resty_ffi.set_default_timeout(60000)
            end
        }
    }
--- request
GET /t
--- timeout: 20
--- response_body
sync 5 s timeout: deadline in 4..5 s: true
sync no timeout: none
async 5 s timeout: deadline in 4..5 s: true
async no timeout: none



=== TEST 20: a timeout: serveAsync cancels the handler's CompletableFuture, Task.isCancelled() turns true, onCancel and cancellation() run; answered RC_CANCELLED without a log line
--- main_config eval: $::MainConfig
--- config
    location = /t {
        content_by_lua_block {
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(ngx.load_ffi("ffi_java", "rtest.Cancels,init," .. mode))
                -- Served once first: a call that times out while still queued never reaches Java.
                rt:call("seen")
                ngx.update_time()
                local t0 = ngx.now()
                ngx.say(mode, " wait: ", rt:call("wait 5000", { timeout = 100 }))
                ngx.say(mode, " wait: ", wait_for_seen(rt, 1))
                ngx.say(mode, " listen: ", rt:call("listen 5000", { timeout = 100 }))
                ngx.say(mode, " listen: ", wait_for_seen(rt, 2))
                ngx.say(mode, " then: ", rt:call("wait 10"))
                ngx.update_time()
                ngx.say(mode, " well before the handlers' own 5 s: ", ngx.now() - t0 < 3)
            end
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- timeout: 20
--- response_body
sync wait: falsetimeout
sync wait: cancelled=1 flagged=1
sync listen: falsetimeout
sync listen: cancelled=2 flagged=2
sync then: truenot cancelled
sync well before the handlers' own 5 s: true
async wait: falsetimeout
async wait: cancelled=1 flagged=1
async listen: falsetimeout
async listen: cancelled=2 flagged=2
async then: truenot cancelled
async well before the handlers' own 5 s: true
live: 0
--- no_error_log
[error]
[alert]
[crit]
dropped



=== TEST 21: a client abort (lua_check_client_abort on) cancels the call in both kinds of handler
--- main_config eval: $::MainConfig
--- config
    location = /wait {
        lua_check_client_abort on;
        content_by_lua_block {
            ngx.load_ffi("ffi_java", "rtest.Cancels,init," .. ngx.var.arg_mode):call("wait 5000")
        }
    }
    location = /t {
        content_by_lua_block {
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(ngx.load_ffi("ffi_java", "rtest.Cancels,init," .. mode))
                rt:call("seen")
                abort_after("/wait?mode=" .. mode, 100)
                ngx.say(mode, ": ", wait_for_seen(rt, 1))
            end
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- timeout: 20
--- response_body
sync: cancelled=1 flagged=1
async: cancelled=1 flagged=1
live: 0
--- error_log
client prematurely closed connection
--- no_error_log
[alert]
[crit]
dropped



=== TEST 22: the HttpClient example cancels its exchange when the caller gives up: the upstream sees its client go at once
--- main_config eval: $::MainConfig
--- config
    location = /upstream/slow {
        lua_check_client_abort on;
        content_by_lua_block {
            local dict = ngx.shared.java_test
            dict:incr("started", 1, 0)
            ngx.on_abort(function()
                dict:incr("gone", 1, 0)
                ngx.exit(499)
            end)
            ngx.sleep(5)
            ngx.print("too late")
        }
    }
    location = /upstream/fast { return 200 "fast"; }
    location = /t {
        content_by_lua_block {
            local http = assert(ngx.load_ffi("ffi_java", "demo.http.App,init,10000"))
            local base = "http://127.0.0.1:" .. ngx.var.server_port
            -- A first exchange warms the client up.
            ngx.say(http:fetch("GET " .. base .. "/upstream/fast"))
            ngx.say(http:fetch("GET " .. base .. "/upstream/slow", { timeout = 500 }))
            local dict = ngx.shared.java_test
            for _ = 1, 400 do
                if dict:get("gone") == 1 then break end
                ngx.sleep(0.005)
            end
            ngx.say("upstream requests started: ", dict:get("started"), ", gone: ", dict:get("gone"))
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- timeout: 20
--- response_body
true200
fast
falsetimeout
upstream requests started: 1, gone: 1
live: 0
--- no_error_log
[alert]
[crit]
dropped



=== TEST 23: ngx.exit, the end of a timer and a killed light thread cancel the call in both kinds of handler
--- main_config eval: $::MainConfig
--- config
    location = /exit {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_java", "rtest.Cancels,init," .. ngx.var.arg_mode)
            ngx.thread.spawn(function() rt:call("wait 5000") end)
            ngx.sleep(0.02)
            ngx.exit(200)
        }
    }
    location = /t {
        content_by_lua_block {
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(ngx.load_ffi("ffi_java", "rtest.Cancels,init," .. mode))
                rt:call("seen")
                -- ngx.exit while a light thread waits (a request of its own) ...
                abort_after("/exit?mode=" .. mode, 200)
                ngx.say(mode, " ngx.exit: ", wait_for_seen(rt, 1))
                -- ... a timer that ends while its light thread waits (onCancel / cancellation()) ...
                ngx.timer.at(0, function()
                    ngx.thread.spawn(function() rt:call("listen 5000") end)
                    ngx.sleep(0.02)
                    ngx.exit(0)
                end)
                ngx.say(mode, " timer end: ", wait_for_seen(rt, 2))
                -- ... and a light thread killed while the request goes on (found within 100 ms).
                local th = ngx.thread.spawn(function() return rt:call("wait 5000") end)
                ngx.sleep(0.02)
                ngx.say(mode, " killed: ", ngx.thread.kill(th))
                ngx.say(mode, " killed: ", wait_for_seen(rt, 3))
            end
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- timeout: 20
--- response_body
sync ngx.exit: cancelled=1 flagged=1
sync timer end: cancelled=2 flagged=2
sync killed: 1
sync killed: cancelled=3 flagged=3
async ngx.exit: cancelled=1 flagged=1
async timer end: cancelled=2 flagged=2
async killed: 1
async killed: cancelled=3 flagged=3
live: 0
--- no_error_log
[error]
[alert]
[crit]
dropped



=== TEST 24: the worker's exit deadline (reload, worker_shutdown_timeout 1s) cancels the call: Task.isCancelled() turns true, onCancel runs, serveAsync cancels the future; the marks in a shared dict outlive the worker, and no JVM thread keeps the old worker
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
--- config
    location = /t {
        content_by_lua_block {
            -- t/lib/exit_cancel.lua: an inner nginx reloaded while three timers' calls wait in
            -- rtest.Cancels' wait_mark / listen_mark; how long after the exit deadline each
            -- noticed is logged. The inner workers get CLASSPATH and JAVA_OPTS as these do.
            local lib = "$TEST_NGINX_LIB_DIR/libffi_java.so"
            local lines = require("exit_cancel").run({
                name = "java", port = 20333, dir = ngx.config.prefix() .. "html/inner-exit",
                binary = "$TEST_NGINX_BINARY", modules = "$TEST_NGINX_LOAD_MODULE_LINES",
                lua_dir = "$TEST_NGINX_LUA_DIR", main = "env CLASSPATH; env JAVA_OPTS;",
                calls = {
                    { key = "isCancelled", lib = lib, cfg = "rtest.Cancels,init,sync",
                      req = "wait_mark marks isCancelled 30000" },
                    { key = "onCancel", lib = lib, cfg = "rtest.Cancels,init,sync",
                      req = "listen_mark marks onCancel 30000" },
                    { key = "future", lib = lib, cfg = "rtest.Cancels,init,async",
                      req = "wait_mark marks future 30000" },
                },
            })
            for _, line in ipairs(lines) do ngx.say(line) end
        }
    }
--- request
GET /t
--- response_body
the runtime holds the calls: true
marks before the reload: isCancelled nil nil; onCancel nil nil; future nil nil; 
old worker exited after the reload: true
the new worker reads isCancelled: marked
the new worker reads onCancel: marked
the new worker reads future: marked
nginx stopped after quit: true
exit notice: true
isCancelled: timer call ended: 1, the exiting worker saw the mark: 1
onCancel: timer call ended: 1, the exiting worker saw the mark: 1
future: timer call ended: 1, the exiting worker saw the mark: 1
old worker exited with code 0: 1
alerts, errors, crashes: 0
--- error_log eval
[
qr/worker exit: java isCancelled: noticed -?\d+\.\d+ ms after the Lua call ended/,
qr/worker exit: java onCancel: noticed -?\d+\.\d+ ms after the Lua call ended/,
qr/worker exit: java future: noticed -?\d+\.\d+ ms after the Lua call ended/,
]
--- timeout: 40
