# vim:set ft= ts=4 sw=4 et fdm=marker:
# The Python loader (libresty_ffi_python.so): both module styles, the resty_ffi module,
# venvs, reload with '?', failing inits and handlers, asyncio concurrency, unload, logging.
# Python modules: runtimes/python/test-runtimes/ ($TEST_NGINX_PY_TESTS) and runtimes/python/examples/; the venv is the
# build's ($TEST_NGINX_PY_VENV, see runtimes/python/build.sh).

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
    init_worker_by_lua_block {
        require "resty_ffi"
        local helpers = require "test_helpers"
        -- Loads a Python runtime: load("dir/module,func,cfg").
        function py_load(cfg)
            return ngx.load_ffi("resty_ffi_python", cfg, { is_global = true })
        end
        -- Waits until t/python/pyt_cancel.py's handlers saw n cancellations (all flagged).
        function wait_for_seen(rt, n)
            return helpers.wait_for_answer(rt, "seen", "cancelled=" .. n .. " flagged=" .. n)
        end
        abort_after = helpers.abort_after
        -- Writes a file under the server root (for modules that tests change).
        function write_file(path, text)
            local f = assert(io.open(path, "w"))
            f:write(text)
            f:close()
        end
    }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: echo in the new style (runtimes/python/examples/echo.py): cfg prefix, str and binary answers
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(py_load("$TEST_NGINX_PY_EXAMPLES/echo,init,>> "))
            ngx.say(rt:echo("hello"))
            local plain = assert(py_load("$TEST_NGINX_PY_EXAMPLES/echo,init"))
            ngx.say(plain:echo("no prefix"))
            local all = {}
            for i = 0, 255 do all[#all + 1] = string.char(i) end
            all = table.concat(all)
            local ok, res = plain:echo(all)
            ngx.say(ok, " ", res == all, " ", #res)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
true>> hello
trueno prefix
true true 256
live: 0



=== TEST 2: the original cffi style (runtimes/python/examples/echo_cffi.py) runs as is, cffi from the venv
--- config
    location = /t {
        content_by_lua_block {
            local rt, err = py_load("venv=$TEST_NGINX_PY_VENV;$TEST_NGINX_PY_EXAMPLES/echo_cffi,init")
            if not rt then ngx.say(err) return end
            ngx.say(rt:echo("hello cffi"))
            local bin = "a\0b\0\255\1" .. string.rep("z", 70000)
            local ok, res = rt:echo(bin)
            ngx.say(ok, " ", res == bin)
            ok, res = rt:echo("")
            ngx.say(ok, " [", res, "]")
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
truehello cffi
true true
true []
live: 0



=== TEST 3: a PyPI package from the venv does real work: jinja2 templates (runtimes/python/examples/render.py)
--- config
    location = /t {
        content_by_lua_block {
            local rt, err = py_load("venv=$TEST_NGINX_PY_VENV;$TEST_NGINX_PY_EXAMPLES/render,init")
            if not rt then ngx.say(err) return end
            ngx.say(select(2, rt:render('{"template": "greeting.html", "vars": {"name": "<Ada>", "items": ["tea", "cake"]}}')))
            local ok, rc, msg = rt:render('{"template": "nope.html"}')
            ngx.say(ok, rc, (msg:gsub("search path: '.-'", "search path: DIR")))
            ngx.say(rt:render('[1, 2]'))
            ngx.say(rt:render('not json'))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
<p>Hello, &lt;Ada&gt;!</p>
<ul>
  <li>tea</li>
  <li>cake</li>
</ul>
false-2jinja2.exceptions.TemplateNotFound: 'nope.html' not found in search path: DIR
false400expected {"template": name, "vars": {...}}
false-2json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)
live: 0
--- error_log
handler init.<locals>.render raised
TemplateNotFound
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 4: venv= puts a venv's site-packages (and its .pth entries) on sys.path; bad venvs are clear errors
--- config
    location = /t {
        content_by_lua_block {
            local T = "$TEST_NGINX_PY_TESTS"
            local probe = assert(py_load(T .. "/pyt_async,init,probe"))
            local pyver = select(2, probe:call("pyver"))
            local venv = ngx.config.prefix() .. "html/fakevenv"
            local site = venv .. "/lib/" .. pyver .. "/site-packages"
            os.execute("rm -rf " .. venv .. " && mkdir -p " .. site .. " " .. venv .. "/extra")
            write_file(site .. "/pyt_venvonly.py", [[
import pyt_extra
import resty_ffi
def init(cfg, tq):
    async def handle(req):
        return "from the venv, " + pyt_extra.WHO
    resty_ffi.serve_async(tq, handle)
]])
            write_file(site .. "/extra.pth", venv .. "/extra\n")
            write_file(venv .. "/extra/pyt_extra.py", 'WHO = "and via its .pth"\n')

            local function try(cfg)
                local rt, err = py_load(cfg)
                ngx.say(rt and "loaded" or (err:gsub("python%d+%.%d+", "pythonX.Y")))
                return rt
            end
            try("pyt_venvonly,init")
            local rt = try("venv=" .. venv .. ";pyt_venvonly,init")
            ngx.say(rt:call(""))
            try("venv=/nonexistent/venv;pyt_async,init")
            try("venv=" .. ngx.config.prefix() .. "logs;pyt_async,init")
        }
    }
--- request
GET /t
--- response_body_like chomp
^libffi_init of libresty_ffi_python.so failed: rc=1: python: cannot import pyt_venvonly: ModuleNotFoundError: No module named 'pyt_venvonly'
loaded
truefrom the venv, and via its .pth
libffi_init of libresty_ffi_python.so failed: rc=1: python: venv /nonexistent/venv: no such directory
libffi_init of libresty_ffi_python.so failed: rc=1: python: venv /\S+/logs has no lib/pythonX.Y/site-packages \(found: none\); this loader runs Python \d+\.\d+
$
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 5: two runtimes with different cfg share one interpreter in the worker
--- config
    location = /t {
        content_by_lua_block {
            local T = "$TEST_NGINX_PY_TESTS"
            local a = assert(py_load(T .. "/pyt_shared,init,A"))
            local b = assert(py_load(T .. "/pyt_shared,init,B"))
            local pid = tostring(ngx.worker.pid())
            local _, ra = a:call("x")
            local _, rb = b:call("y")
            ngx.say((ra:gsub(pid, "WORKER")))
            ngx.say((rb:gsub(pid, "WORKER")))
            ngx.say(a ~= b, " ", py_load(T .. "/pyt_shared,init,A") == a)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
A: x A,B pid=WORKER
B: y A,B pid=WORKER
true true
live: 0



=== TEST 6: '?' re-imports a changed module on the next load; without '?' the imported one is kept
--- config
    location = /t {
        content_by_lua_block {
            local prefix = ngx.config.prefix()
            local file = prefix .. "html/pyt_reload.py"
            local function version(v)
                write_file(file, 'import resty_ffi\nVERSION = "' .. v .. [["
def init(cfg, tq):
    async def handle(req):
        return VERSION
    resty_ffi.serve_async(tq, handle)
]])
            end

            version("v1")
            local rt = assert(py_load(prefix .. "html/pyt_reload?,init"))
            ngx.say(select(2, rt:call("")))
            rt:__unload()

            version("version two")
            rt = assert(py_load(prefix .. "html/pyt_reload?,init"))
            ngx.say(select(2, rt:call("")))
            rt:__unload()

            version("third, not picked up")
            rt = assert(py_load(prefix .. "html/pyt_reload,init"))
            ngx.say(select(2, rt:call("")))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
v1
version two
version two
live: 0



=== TEST 7: a raising handler answers false, -2 (RC_PANICKED), <last traceback line> and the runtime keeps serving
--- config
    location = /t {
        content_by_lua_block {
            local T = "$TEST_NGINX_PY_TESTS"
            local rt = assert(py_load(T .. "/pyt_async,init,raising"))
            ngx.say(rt:call("raise boom"))
            ngx.say(rt:call("echo still serving"))
            ngx.say(rt:call("fail expected failure"))
            ngx.say(rt:call("int"))
            ngx.say(rt:call("bogus"))
            ngx.say(rt:call("echo and again"))
            local sync = assert(py_load(T .. "/pyt_sync,init"))
            ngx.say(sync:call("raise missing"))
            ngx.say(sync:call("echo sync still serving"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
false-2ValueError: boom
truestill serving
false7expected failure
false-1TypeError: a response must be bytes, bytearray, memoryview, str or None, not int
false22unknown command
trueand again
false-2KeyError: 'missing'
truesync still serving
live: 0
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] python resty_ffi: handler init\.<locals>\.handle raised/,
qr/ValueError: boom/,
qr/\[error\] .*\[resty_ffi\] python resty_ffi: handler handle raised/,
qr/KeyError: 'missing'/,
]
--- no_error_log
expected failure
[alert]
[crit]
[emerg]



=== TEST 8: a failing init: load_ffi gives nil and the reason (traceback in error.log); the worker goes on; a cfg naming a .py file gets the module name to use
--- config
    location = /t {
        content_by_lua_block {
            local T = "$TEST_NGINX_PY_TESTS"
            local function try(cfg)
                local rt, err = py_load(cfg)
                ngx.say(rt and "loaded" or (err:gsub("^libffi_init of libresty_ffi_python.so failed: ", "")))
            end
            try(T .. "/pyt_init,init_raise,db.example:5432")
            try(T .. "/pyt_init,init_rc")
            try(T .. "/pyt_init,init_str")
            try(T .. "/pyt_init,init_exit")
            try(T .. "/pyt_init,not_a_function")
            try(T .. "/pyt_init,no_such_function")
            try(T .. "/pyt_no_such_module,init")
            write_file(ngx.config.prefix() .. "html/pyt_broken.py", "def init(cfg, tq)\n    return 0\n")
            try(ngx.config.prefix() .. "html/pyt_broken,init")
            try("pyt_init")
            try("pyt-init,init")
            try("opt=1;pyt_init,init")
            try("/srv/app/pyt_init.py,init")
            local rt, err = ngx.load_ffi("resty_ffi_python", nil, { is_global = true })
            ngx.say(err)
            rt = assert(py_load(T .. "/pyt_init,init_ok"))
            ngx.say(rt:call("after all that"))
        }
    }
--- request
GET /t
--- response_body
rc=1: python: pyt_init.init_raise() raised: RuntimeError: no database at db.example:5432
rc=5: python: pyt_init.init_rc() returned 5
rc=1: python: pyt_init.init_str() returned 'yes': expected 0 or None (success) or another int (failure)
rc=1: python: pyt_init.init_exit() raised: SystemExit: 3
rc=1: python: module pyt_init has no function not_a_function
rc=1: python: module pyt_init has no function no_such_function
rc=1: python: cannot import pyt_no_such_module: ModuleNotFoundError: No module named 'pyt_no_such_module'
rc=1: python: cannot import pyt_broken: SyntaxError: expected ':'
rc=1: python: bad cfg "pyt_init": no function name; expected [venv=<dir>;]<[dir/]module[?]>,<func>[,<cfg>]
rc=1: python: bad cfg: "pyt-init" is not a Python module name; expected [venv=<dir>;]<[dir/]module[?]>,<func>[,<cfg>]
rc=1: python: bad cfg: unknown option "opt=1" (the only option is venv=<dir>;)
rc=1: python: bad cfg: "pyt_init.py" is a file name, and Python takes a module name: "pyt_init" (its directory before it, as in /srv/app/pyt_init,init); expected [venv=<dir>;]<[dir/]module[?]>,<func>[,<cfg>]
libffi_init of libresty_ffi_python.so failed: rc=1: python: no cfg: expected [venv=<dir>;]<[dir/]module[?]>,<func>[,<cfg>]
trueok after all that
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] python: Traceback \(most recent call last\):/,
qr/raise RuntimeError\("no database at %s" % resty_ffi.cfg_text\(cfg\)\)/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 9: asyncio: 100 calls in flight at once (from 20 requests and 80 light threads) while other requests are served
--- config
    location = /fast {
        return 200 "fast\n";
    }
    location = /wait {
        content_by_lua_block {
            local rt = assert(py_load("$TEST_NGINX_PY_TESTS/pyt_async,init,conc"))
            local ok, res = rt:call("wait " .. ngx.var.arg_i)
            ngx.print(ok and res or "failed")
        }
    }
    location = /t {
        content_by_lua_block {
            local rt = assert(py_load("$TEST_NGINX_PY_TESTS/pyt_async,init,conc"))
            local function get(path)
                local sock = ngx.socket.tcp()
                sock:settimeout(10000)
                assert(sock:connect("127.0.0.1", ngx.var.server_port))
                assert(sock:send("GET " .. path .. " HTTP/1.0\r\nHost: localhost\r\n\r\n"))
                local resp = sock:receive("*a")
                sock:close()
                return resp and resp:match("\r\n\r\n(.*)$")
            end
            local threads = {}
            for i = 1, 20 do
                threads[i] = ngx.thread.spawn(get, "/wait?i=r" .. i)
            end
            for i = 21, 100 do
                threads[i] = ngx.thread.spawn(function() return select(2, rt:call("wait t" .. i)) end)
            end
            -- Every call is parked on one asyncio loop; the loop still answers this one.
            local waiting
            for _ = 1, 1000 do
                waiting = select(2, rt:call("waiting"))
                if waiting == "100" then break end
                ngx.sleep(0.01)
            end
            ngx.say("in flight: ", waiting)
            ngx.say("another request meanwhile: ", get("/fast"))
            ngx.say(select(2, rt:call("release")))
            local good = 0
            for i = 1, 100 do
                local _, res = ngx.thread.wait(threads[i])
                if res == (i <= 20 and "r" or "t") .. i then good = good + 1 end
            end
            ngx.say("answered: ", good)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
in flight: 100
another request meanwhile: fast

released
answered: 100
live: 0



=== TEST 10: binary payloads both ways: every byte value, NULs, empty, 4 MiB
--- config
    location = /t {
        content_by_lua_block {
            local T = "$TEST_NGINX_PY_TESTS"
            local async = assert(py_load(T .. "/pyt_async,init,bin"))
            local low = assert(py_load(T .. "/pyt_lowlevel,init"))
            local bytes = {}
            for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
            local cases = {
                all = table.concat(bytes),
                nuls = "\0\0\0",
                empty = "",
                big = string.rep(table.concat(bytes), 4 * 4096),
            }
            for _, name in ipairs({ "all", "nuls", "empty", "big" }) do
                local payload = cases[name]
                local ok1, r1 = async:call("echo " .. payload)
                local ok2, r2 = low:call("echo " .. payload)
                ngx.say(name, ": ", ok1 and r1 == payload, " ", ok2 and r2 == payload, " ", #payload)
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
all: true true 256
nuls: true true 3
empty: true true 0
big: true true 4194304
live: 0



=== TEST 11: TaskQueue and Task directly: answers of each type, one answer only, dropped tasks, cfg_text
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(py_load("$TEST_NGINX_PY_TESTS/pyt_lowlevel,init,a,b,c"))
            ngx.say(rt:call("twice once"))
            ngx.say(rt:call("none"))
            ngx.say(rt:call("rc 3 three"))
            ngx.say(rt:call("rc -300 minus three hundred"))
            ngx.say(rt:call("str"))
            ngx.say(rt:call("bytearray ba"))
            ngx.say(rt:call("memoryview xmv"))
            ngx.say(rt:call("badtype"))
            ngx.say(rt:call("drop"))
            ngx.say(rt:call("cfg"))
            ngx.say(rt:call("cfglater"))
            ngx.say(rt:call("answered"))
            local nocfg = assert(py_load("$TEST_NGINX_PY_TESTS/pyt_lowlevel,init"))
            ngx.say(nocfg:call("cfg"))
            local empty = assert(py_load("$TEST_NGINX_PY_TESTS/pyt_lowlevel,init,"))
            ngx.say(empty:call("cfg"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
trueonce
truenil
false3three
false-300minus three hundred
truehéllo
trueba
truemv
false2a response must be bytes, bytearray, memoryview, str or None, not int
false-3task dropped without an answer
true'a,b,c'
truecfg_text(cfg): cfg is only valid during its init(cfg, tq) call
truex
trueNone
true''
live: 0
--- error_log
pyt_lowlevel: second answer refused: this task was already answered
python: a task was dropped without an answer
pyt_lowlevel: answered False -> True



=== TEST 12: unload: calls queued or in flight are answered, later calls refused, the server stops
--- config
    location = /t {
        content_by_lua_block {
            local T = "$TEST_NGINX_PY_TESTS"
            local rt = assert(py_load(T .. "/pyt_async,init,gone"))
            local monitor = assert(py_load(T .. "/pyt_async,init,monitor"))
            ngx.say(select(2, monitor:call("threads")))
            local threads = {}
            for i = 1, 50 do
                threads[i] = ngx.thread.spawn(function() return rt:call("sleep 0.02") end)
            end
            ngx.say(rt:__unload())
            local good = 0
            for i = 1, 50 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and res == "slept" then good = good + 1 end
            end
            ngx.say("answered: ", good)
            ngx.say(rt:call("echo late"))
            local stopped
            for _ = 1, 500 do
                stopped = select(2, monitor:call("stopped gone"))
                if stopped == "True" then break end
                ngx.sleep(0.01)
            end
            ngx.say("stopped: ", stopped)
            local threads_left
            for _ = 1, 500 do
                threads_left = select(2, monitor:call("threads"))
                if not threads_left:find("gone", 1, true) then break end
                ngx.sleep(0.01)
            end
            ngx.say("threads: ", threads_left)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
gone-cancel gone-loop gone-poll monitor-cancel monitor-loop monitor-poll
true
answered: 50
falseruntime unloaded
stopped: True
threads: monitor-cancel monitor-loop monitor-poll
live: 0



=== TEST 13: Python logging goes to error.log at the matching nginx level
--- config
    location = /t {
        content_by_lua_block {
            local rt = assert(py_load("$TEST_NGINX_PY_TESTS/pyt_logging,init"))
            ngx.say(rt:call(""))
        }
    }
--- request
GET /t
--- response_body
truelogged
--- wait: 0.1
--- error_log eval
[
qr/\[warn\] .*\[resty_ffi\] python pyt: a warning from init/,
qr/\[crit\] .*\[resty_ffi\] python pyt: a critical record/,
qr/\[warn\] .*\[resty_ffi\] python pyt: a warning record/,
qr/\[notice\] .*\[resty_ffi\] python pyt: a level-25 record/,
qr/\[info\] .*\[resty_ffi\] python pyt: an info record/,
qr/\[debug\] .*\[resty_ffi\] python pyt: a debug record/,
qr/\[info\] .*\[resty_ffi\] python pyt: long x+ \.\.\. x+ end-of-long$/,
qr/\[notice\] .*\[resty_ffi\] raw bytes through resty_ffi.log/,
]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 14: without is_global C extensions still load (cffi's backend); unpin (dlclose on unload) cannot unmap Python
--- config
    location = /t {
        content_by_lua_block {
            local rt, err = ngx.load_ffi("resty_ffi_python",
                "venv=$TEST_NGINX_PY_VENV;$TEST_NGINX_PY_EXAMPLES/echo_cffi,init", { unpin = true })
            if not rt then ngx.say(err) return end
            ngx.say(rt:echo("no is_global"))
            ngx.say(rt:__unload())
            rt = assert(ngx.load_ffi("resty_ffi_python", "$TEST_NGINX_PY_EXAMPLES/echo,init,again: ",
                                     { unpin = true }))
            ngx.say(rt:echo("after a dlclose"))
            ngx.say(rt:__unload())
            ngx.sleep(0.05)
            rt = assert(ngx.load_ffi("resty_ffi_python", "$TEST_NGINX_PY_EXAMPLES/echo,init,third: "))
            ngx.say(rt:echo("still alive"))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
trueno is_global
true
trueagain: after a dlclose
true
truethird: still alive
live: 0



=== TEST 15: SystemExit, KeyboardInterrupt, GeneratorExit, CancelledError (of a call not cancelled), custom BaseExceptions, unprintable exceptions and a bad Error rc in serve and serve_async: each answers false, -2 (RC_PANICKED; a bad Error rc: -1, RC_ERROR), msg and the runtime keeps serving
--- config
    location = /t {
        content_by_lua_block {
            local T = "$TEST_NGINX_PY_TESTS"
            local cmds = { "exit 3", "argparse --n x", "kbd", "genexit", "custom mine", "cancel",
                           "badstr", "badstrbase", "bigrc" }
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(ngx.load_ffi("resty_ffi_python", T .. "/pyt_baseexc,init," .. mode,
                                               { is_global = true, timeout = 1000 }))
                for _, cmd in ipairs(cmds) do
                    ngx.say(mode, " ", cmd, ": ", rt:call(cmd))
                    ngx.say(mode, " then: ", rt:call("echo ok"))
                end
            end
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
sync exit 3: false-2SystemExit: 3
sync then: trueok
sync argparse --n x: false-2SystemExit: 2
sync then: trueok
sync kbd: false-2KeyboardInterrupt
sync then: trueok
sync genexit: false-2GeneratorExit: closing
sync then: trueok
sync custom mine: false-2pyt_baseexc.Custom: mine
sync then: trueok
sync cancel: false-2asyncio.exceptions.CancelledError
sync then: trueok
sync badstr: false-2pyt_baseexc.BadStr: <exception str() failed>
sync then: trueok
sync badstrbase: false-2pyt_baseexc.BadStrBase: <exception str() failed>
sync then: trueok
sync bigrc: false-1rc too big
sync then: trueok
async exit 3: false-2SystemExit: 3
async then: trueok
async argparse --n x: false-2SystemExit: 2
async then: trueok
async kbd: false-2KeyboardInterrupt
async then: trueok
async genexit: false-2GeneratorExit: closing
async then: trueok
async custom mine: false-2pyt_baseexc.Custom: mine
async then: trueok
async cancel: false-2asyncio.exceptions.CancelledError
async then: trueok
async badstr: false-2pyt_baseexc.BadStr: <exception str() failed>
async then: trueok
async badstrbase: false-2pyt_baseexc.BadStrBase: <exception str() failed>
async then: trueok
async bigrc: false-1rc too big
async then: trueok
live: 0
--- timeout: 60
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] python resty_ffi: handler init\.<locals>\.handle raised/,
qr/\[error\] .*\[resty_ffi\] python resty_ffi: handler init\.<locals>\.handle_async raised/,
qr/SystemExit: 3/,
qr/pyt_baseexc\.Custom: mine/,
]
--- no_error_log
task dropped without an answer
never retrieved
[alert]
[crit]
[emerg]



=== TEST 16: deadlines: task.deadline is on time.monotonic()'s clock (asyncio's too); none without a timeout
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local T = "$TEST_NGINX_PY_TESTS"
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(py_load(T .. "/pyt_cancel,init," .. mode))
                local left = tonumber(select(2, rt:call("deadline", { timeout = 5000 })))
                ngx.say(mode, " 5 s timeout: deadline in 4..5 s: ", left > 4000 and left <= 5000)
                resty_ffi.set_default_timeout(0)
                ngx.say(mode, " no timeout: ", select(2, rt:call("deadline")))
                resty_ffi.set_default_timeout(60000)
            end
            local rt = assert(py_load(T .. "/pyt_cancel,init,async"))
            ngx.say("loop.time(): ", select(2, rt:call("clock")))
        }
    }
--- request
GET /t
--- response_body
sync 5 s timeout: deadline in 4..5 s: true
sync no timeout: none
async 5 s timeout: deadline in 4..5 s: true
async no timeout: none
loop.time(): same



=== TEST 17: a timeout: serve_async cancels the handler's asyncio task (CancelledError, answered RC_CANCELLED without a traceback); a blocking handler sees task.cancelled()
--- config
    location = /t {
        content_by_lua_block {
            local T = "$TEST_NGINX_PY_TESTS"
            local t0 = ngx.now()
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(py_load(T .. "/pyt_cancel,init," .. mode))
                -- Served once first: the runtime's threads poll before the timed call is made
                -- (a call that times out while still queued never reaches the runtime).
                rt:call("seen")
                ngx.say(mode, ": ", rt:call("wait 5", { timeout = 100 }))
                ngx.say(mode, ": ", wait_for_seen(rt, 1))
                ngx.say(mode, " then: ", rt:call("wait 0.01"))
            end
            -- A handler that catches the CancelledError and answers anyway.
            local rt = assert(py_load(T .. "/pyt_cancel,init,async"))
            ngx.say("keep: ", rt:call("keep 5", { timeout = 100 }))
            ngx.say("keep: ", wait_for_seen(rt, 2))
            ngx.update_time()
            ngx.say("well before the handlers' own 5 s: ", ngx.now() - t0 < 3)
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
sync: falsetimeout
sync: cancelled=1 flagged=1
sync then: truenot cancelled
async: falsetimeout
async: cancelled=1 flagged=1
async then: truenot cancelled
keep: falsetimeout
keep: cancelled=2 flagged=2
well before the handlers' own 5 s: true
live: 0
--- no_error_log
raised
dropped
[alert]
[crit]



=== TEST 18: a client abort (lua_check_client_abort on) cancels the call: the asyncio task and the blocking handler both see it
--- config
    location = /wait {
        lua_check_client_abort on;
        content_by_lua_block {
            py_load("$TEST_NGINX_PY_TESTS/pyt_cancel,init," .. ngx.var.arg_mode):call("wait 5")
        }
    }
    location = /t {
        content_by_lua_block {
            local T = "$TEST_NGINX_PY_TESTS"
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(py_load(T .. "/pyt_cancel,init," .. mode))
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
--- response_body
sync: cancelled=1 flagged=1
async: cancelled=1 flagged=1
live: 0
--- error_log
client prematurely closed connection
--- no_error_log
raised
dropped
[alert]
[crit]



=== TEST 19: ngx.exit, the end of a timer and a killed light thread cancel the call: the asyncio task and the blocking handler see each
--- config
    location = /exit {
        content_by_lua_block {
            local rt = py_load("$TEST_NGINX_PY_TESTS/pyt_cancel,init," .. ngx.var.arg_mode)
            ngx.thread.spawn(function() rt:call("wait 5") end)
            ngx.sleep(0.02)
            ngx.exit(200)
        }
    }
    location = /t {
        content_by_lua_block {
            local T = "$TEST_NGINX_PY_TESTS"
            for _, mode in ipairs({ "sync", "async" }) do
                local rt = assert(py_load(T .. "/pyt_cancel,init," .. mode))
                rt:call("seen")
                -- ngx.exit while a light thread waits (a request of its own) ...
                abort_after("/exit?mode=" .. mode, 200)
                ngx.say(mode, " ngx.exit: ", wait_for_seen(rt, 1))
                -- ... a timer that ends while its light thread waits ...
                ngx.timer.at(0, function()
                    ngx.thread.spawn(function() rt:call("wait 5") end)
                    ngx.sleep(0.02)
                    ngx.exit(0)
                end)
                ngx.say(mode, " timer end: ", wait_for_seen(rt, 2))
                -- ... and a light thread killed while the request goes on (found within 100 ms).
                local th = ngx.thread.spawn(function() return rt:call("wait 5") end)
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
raised
dropped
[error]
[alert]
[crit]



=== TEST 20: the worker's exit deadline (reload, worker_shutdown_timeout 1s) cancels the call: the asyncio task gets CancelledError, the blocking handler sees task.cancelled(); the marks in a shared dict outlive the worker
--- http_config
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;$TEST_NGINX_LUA_DIR/../t/lib/?.lua;;";
--- config
    location = /t {
        content_by_lua_block {
            -- t/lib/exit_cancel.lua: an inner nginx reloaded while two timers' calls wait in
            -- pyt_cancel's wait_mark; how long after the exit deadline each noticed is logged.
            local lib, mod = "$TEST_NGINX_LIB_DIR/libresty_ffi_python.so", "$TEST_NGINX_PY_TESTS/pyt_cancel,init,"
            local lines = require("exit_cancel").run({
                name = "python", port = 20332, dir = ngx.config.prefix() .. "html/inner-exit",
                binary = "$TEST_NGINX_BINARY", modules = "$TEST_NGINX_LOAD_MODULE_LINES",
                lua_dir = "$TEST_NGINX_LUA_DIR",
                calls = {
                    { key = "async", lib = lib, cfg = mod .. "async", global = true,
                      req = "wait_mark marks async 30" },
                    { key = "sync", lib = lib, cfg = mod .. "sync", global = true,
                      req = "wait_mark marks sync 30" },
                },
            })
            for _, line in ipairs(lines) do ngx.say(line) end
        }
    }
--- request
GET /t
--- response_body
the runtime holds the calls: true
marks before the reload: async nil nil; sync nil nil; 
old worker exited after the reload: true
the new worker reads async: marked
the new worker reads sync: marked
nginx stopped after quit: true
exit notice: true
async: timer call ended: 1, the exiting worker saw the mark: 1
sync: timer call ended: 1, the exiting worker saw the mark: 1
old worker exited with code 0: 1
alerts, errors, crashes: 0
--- error_log eval
[
qr/worker exit: python async: noticed -?\d+\.\d+ ms after the Lua call ended/,
qr/worker exit: python sync: noticed -?\d+\.\d+ ms after the Lua call ended/,
]
--- timeout: 30
