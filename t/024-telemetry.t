# vim:set ft= ts=4 sw=4 et fdm=marker:
# The bridge's own numbers: resty.ffi.stats() counts exactly what became of a known mix of
# calls; resty.ffi.metrics renders every worker's numbers for Prometheus (checked with the
# real parser, Debian's python3-prometheus-client).

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict resty_ffi_metrics 1m;
    init_worker_by_lua_block {
        require "resty_ffi"
        assert(require("resty.ffi.metrics").enable("resty_ffi_metrics", 0.1))
        -- Every worker makes a known mix of calls of its own at start: 12 answered ok, 2
        -- with the runtime's rc 7, 1 with the reserved rc -1, 1 timeout, 1 refused (queue
        -- full); then it marks its mix done.
        ngx.timer.at(0, function()
            local rt = ngx.load_ffi("ffi_test", "workers", { max_queue = 1 })
            for i = 1, 10 do
                rt:call("echo " .. i)
            end
            rt:call("error 7 a")
            rt:call("error 7 b")
            rt:call("error -1 c")
            rt:call("sleep 100 late", { timeout = 10 })
            local busy = ngx.thread.spawn(function() return rt:call("block 100 x") end)
            ngx.sleep(0.01)
            local queued = ngx.thread.spawn(function() return rt:call("echo queued") end)
            rt:call("echo refused")
            ngx.thread.wait(busy)
            ngx.thread.wait(queued)
            ngx.sleep(0.2)   -- the timed-out call's late answer
            ngx.shared.resty_ffi_metrics:incr("mix_done", 1, 0)
        end)
    }
_EOC_

master_on();
workers(2);
no_long_string();
run_tests();

__DATA__

=== TEST 1: stats() counts every kind of end a call can have, exactly
--- config
    location = /t {
        content_by_lua_block {
            local resty_ffi = require "resty.ffi"
            local rt = ngx.load_ffi("ffi_test", "mix", { max_queue = 1 })
            for i = 1, 5 do rt:call("echo " .. i) end             -- 5 ok
            rt:call("error 7 user")                                -- a runtime's own code
            rt:call("error 9 user")
            rt:call("error -1 reserved")                           -- reserved: error
            rt:call("error -2 reserved")                           -- reserved: panicked
            rt:call("sleep 300 late", { timeout = 20 })           -- a timeout
            -- The poll thread blocks 200 ms; one call waits in the queue (max_queue 1), the
            -- next is refused; the blocked call's light thread is killed (gone).
            local th = ngx.thread.spawn(function() return rt:call("block 200 x") end)
            ngx.sleep(0.01)
            local queued = ngx.thread.spawn(function() return rt:call("echo queued") end)
            ngx.say(rt:call("echo refused"))                       -- queue_full
            ngx.thread.kill(th)
            ngx.say(select(2, ngx.thread.wait(queued)))           -- ok
            ngx.sleep(0.6)                                         -- the sweep, the late answers
            local s
            for _, r in ipairs(resty_ffi.stats()) do
                if r.runtime == "ffi_test" and r.cfg == "mix" then s = r end
            end
            ngx.say("calls=", s.calls, " ok=", s.ok, " runtime_error=", s.runtime_error,
                    " error=", s.error, " panicked=", s.panicked, " timeout=", s.timeout,
                    " gone=", s.gone, " queue_full=", s.queue_full, " live=", s.live,
                    " queue_depth=", s.queue_depth)
            ngx.say("answers timed: ", s.service.count, " read: ", s.total.count,
                    " queued: ", s.queue_wait.count)
            local n = 0
            for _, b in ipairs(s.total.buckets) do n = n + b end
            ngx.say("buckets: ", #s.total.buckets, " sum to count: ", n == s.total.count)
            rt:__unload()
            ngx.say(rt:call("echo after"))
            -- the registry forgets an unloaded runtime (its numbers go with it)
            local left = 0
            for _, r in ipairs(resty_ffi.stats()) do
                if r.cfg == "mix" then left = left + 1 end
            end
            ngx.say("listed after unload: ", left)
        }
    }
--- request
GET /t
--- response_body
falsequeue full
truequeued
calls=12 ok=6 runtime_error=2 error=1 panicked=1 timeout=1 gone=1 queue_full=1 live=0 queue_depth=0
answers timed: 12 read: 10 queued: 12
buckets: 20 sum to count: true
falseruntime unloaded
listed after unload: 0
--- timeout: 10



=== TEST 2: a known mix in each of 2 workers: Prometheus text for both, summed, exact, parsed by the real parser
--- config
    location = /metrics {
        content_by_lua_block {
            ngx.print(require("resty.ffi.metrics").prometheus())
        }
    }
    location = /t {
        content_by_lua_block {
            local metrics = require "resty.ffi.metrics"
            -- Both workers' mixes, once both are done and have published since.
            local dict = ngx.shared.resty_ffi_metrics
            for _ = 1, 100 do
                if dict:get("mix_done") == 2 then break end
                ngx.sleep(0.05)
            end
            ngx.sleep(0.3)
            local text = metrics.prometheus()
            local path = os.tmpname()
            local f = assert(io.open(path, "w"))
            f:write(text)
            f:close()
            -- A test may block its worker: the real parser runs in a child process.
            local check = "$TEST_NGINX_LUA_DIR/../t/lib/check_prometheus.py"
            local p = assert(io.popen("/usr/bin/python3 " .. check .. " " .. path
                .. " 'resty_ffi_calls_total{cfg=workers,runtime=ffi_test}'"
                .. " 'resty_ffi_call_results_total{cfg=workers,result=ok,runtime=ffi_test}'"
                .. " 'resty_ffi_call_results_total{cfg=workers,result=runtime_error,runtime=ffi_test}'"
                .. " 'resty_ffi_call_results_total{cfg=workers,result=error,runtime=ffi_test}'"
                .. " 'resty_ffi_call_results_total{cfg=workers,result=timeout,runtime=ffi_test}'"
                .. " 'resty_ffi_calls_refused_total{cfg=workers,reason=queue_full,runtime=ffi_test}'"
                .. " 'resty_ffi_call_duration_seconds_count{cfg=workers,runtime=ffi_test}'"
                .. " 'resty_ffi_call_duration_seconds_bucket{cfg=workers,le=+Inf,runtime=ffi_test}'"
                .. " 'resty_ffi_service_seconds_count{cfg=workers,runtime=ffi_test}'"
                .. " 'resty_ffi_calls_in_flight{cfg=workers,runtime=ffi_test}' 2>&1"))
            ngx.print(p:read("*a"))
            p:close()
            os.remove(path)
        }
    }
--- request
GET /t
--- response_body
family resty_ffi_call_duration_seconds histogram
family resty_ffi_call_results counter
family resty_ffi_calls counter
family resty_ffi_calls_in_flight gauge
family resty_ffi_calls_refused counter
family resty_ffi_queue_depth gauge
family resty_ffi_queue_wait_seconds histogram
family resty_ffi_service_seconds histogram
resty_ffi_calls_total{cfg=workers,runtime=ffi_test} = 32.0
resty_ffi_call_results_total{cfg=workers,result=ok,runtime=ffi_test} = 24.0
resty_ffi_call_results_total{cfg=workers,result=runtime_error,runtime=ffi_test} = 4.0
resty_ffi_call_results_total{cfg=workers,result=error,runtime=ffi_test} = 2.0
resty_ffi_call_results_total{cfg=workers,result=timeout,runtime=ffi_test} = 2.0
resty_ffi_calls_refused_total{cfg=workers,reason=queue_full,runtime=ffi_test} = 2.0
resty_ffi_call_duration_seconds_count{cfg=workers,runtime=ffi_test} = 30.0
resty_ffi_call_duration_seconds_bucket{cfg=workers,le=+Inf,runtime=ffi_test} = 30.0
resty_ffi_service_seconds_count{cfg=workers,runtime=ffi_test} = 32.0
resty_ffi_calls_in_flight{cfg=workers,runtime=ffi_test} = 0.0
--- timeout: 10
