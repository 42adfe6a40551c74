# vim:set ft= ts=4 sw=4 et fdm=marker:
# Runtimes that break the rules: answering twice, answering a task they never had.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: a runtime answering every task twice: the first answer wins, the second is dropped and logged
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_test", "threads=2")
            local threads = {}
            -- Interleave double answers with normal calls, so that slots are reused while
            -- second answers are still arriving.
            for i = 1, 200 do
                local cmd = (i % 2 == 0) and "twice " or "echo "
                threads[i] = ngx.thread.spawn(function() return rt:call(cmd .. i) end)
            end
            local good = 0
            for i = 1, 200 do
                local _, ok, res = ngx.thread.wait(threads[i])
                if ok and res == tostring(i) then good = good + 1 end
            end
            ngx.say("correct answers: ", good)
            ngx.sleep(0.05)
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body
correct answers: 200
live: 0
--- error_log eval
qr/\[error\] .*resty_ffi: dropped \d+ response\(s\) to tasks that were not waiting for one \(answered twice\?\)/
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 2: runtime threads do not take nginx's signals (SIGHUP, SIGQUIT, SIGCHLD blocked)
--- config
    location = /t {
        content_by_lua_block {
            local bit = require "bit"
            local rt = ngx.load_ffi("ffi_test", "threads=3")
            rt:call("echo warm")
            local function scan()
                local p = io.popen("ls /proc/" .. ngx.worker.pid() .. "/task")
                local tids = p:read("*a")
                p:close()
                local runtime_threads, blocked = 0, 0
                for tid in tids:gmatch("%d+") do
                    local f = io.open("/proc/self/task/" .. tid .. "/comm")
                    local comm = f and f:read("*l")
                    if f then f:close() end
                    if comm == "ffi_test" then
                        runtime_threads = runtime_threads + 1
                        local st = io.open("/proc/self/task/" .. tid .. "/status"):read("*a")
                        local low = tonumber(st:match("SigBlk:%s*%x*(%x%x%x%x%x%x%x%x)\n"), 16)
                        -- SIGHUP (1), SIGQUIT (3), SIGCHLD (17): bits 0, 2 and 16.
                        if bit.band(low, 0x10005) == 0x10005 then blocked = blocked + 1 end
                    end
                end
                return runtime_threads, blocked
            end
            -- A new thread names itself once it runs: look again until all three have.
            local runtime_threads, blocked
            for _ = 1, 100 do
                runtime_threads, blocked = scan()
                if runtime_threads == 3 then break end
                ngx.sleep(0.01)
            end
            ngx.say("runtime threads: ", runtime_threads, ", with nginx signals blocked: ", blocked)
        }
    }
--- request
GET /t
--- response_body
runtime threads: 3, with nginx signals blocked: 3
