-- Test harness (not part of resty-ffi): the worker-exit case of cancellation for a runtime of
-- any language, as t/023 TEST 8 does it for the C ABI. An inner nginx (t/lib/inner_nginx.lua,
-- one worker, worker_shutdown_timeout 1s) starts one timer per call; each call waits in its
-- runtime until the call is cancelled, and the runtime then marks the cancellation in the
-- lua_shared_dict "marks" (key = the Unix time, in seconds, at which it noticed). A reload
-- (HUP) makes the worker exit while the calls wait: at its exit deadline the module ends
-- them ("worker exiting") and tells the runtimes. The zone outlives the worker, so the new
-- worker reads the marks.
--
-- How long after the exit deadline each runtime noticed goes to the outer nginx's error log,
-- for information only: its mark minus the moment the Lua call returned "worker exiting"
-- (the module ends the call and tells the runtime in the same step, so this can be a little
-- negative), and minus the moment the exit began (a premature timer; the deadline is 1 s on):
--     worker exit: <runtime> <key>: noticed N ms after the Lua call ended (M ms after the
--     exit began; its deadline: 1000 ms)

local inner_nginx = require "inner_nginx"

local _M = {}

-- The inner nginx's timers: one per call. Each loads its runtime, waits for the call to
-- end, records when (ended_<key>) and keeps the exiting worker alive until the runtime's
-- mark is there (at most 5 s), so that the runtime thread is not ended before it marks.
local function timers(calls)
    local code = {}
    for _, c in ipairs(calls) do
        code[#code + 1] = string.format([[
        ngx.timer.at(0, function()
            local rt, err = ngx.load_ffi(%q, %s, { is_global = %s })
            if not rt then
                ngx.log(ngx.ERR, "load failed: ", err)
                return
            end
            local ok, res = rt:call(%q)
            ngx.shared.marks:set("ended_" .. %q, now())
            ngx.log(ngx.NOTICE, "timer call ended: ", %q, " ", tostring(ok), " ", tostring(res))
            for _ = 1, 500 do
                if ngx.shared.marks:get(%q) then break end
                ngx.sleep(0.01)
            end
            ngx.log(ngx.NOTICE, "the exiting worker sees the mark: ", %q, " ",
                    tostring(ngx.shared.marks:get(%q) ~= nil))
        end)
]], c.lib, c.cfg and string.format("%q", c.cfg) or "nil", tostring(c.global == true), c.req,
            c.key, c.key, c.key, c.key, c.key)
    end
    return table.concat(code)
end

local function inner_conf(opts)
    local keys = {}
    for i, c in ipairs(opts.calls) do
        keys[i] = string.format("%q", c.key)
    end
    return string.format([[
%s
%s
user root;
worker_processes 1;
worker_shutdown_timeout 1s;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    lua_package_path "%s/?.lua;;";
    lua_shared_dict marks 1m;
    init_worker_by_lua_block {
        require "resty_ffi"
        -- The wall clock in seconds, to the microsecond (ngx.now() has milliseconds).
        local ffi = require "ffi"
        pcall(ffi.cdef, "int gettimeofday(void *tv, void *tz);")
        local tv = ffi.new("long[2]")
        function now()
            local ok = pcall(ffi.C.gettimeofday, tv, nil)
            if not ok then
                ngx.update_time()
                return ngx.now()
            end
            return tonumber(tv[0]) + tonumber(tv[1]) / 1e6
        end
        if not ngx.shared.marks:add("started", true) then
            return   -- the worker after the reload starts nothing
        end
        -- Pending timers run (premature) when the worker begins to exit: the exit's start.
        ngx.timer.at(3600, function(premature)
            if premature then ngx.shared.marks:set("exit_start", now()) end
        end)
%s
    }
    server {
        listen 127.0.0.1:PORT reuseport;
        location = /held {
            content_by_lua_block {
                -- Calls that a runtime took (queued and not yet freed, minus still queued).
                local held = 0
                for _, s in ipairs(require("resty_ffi").stats()) do
                    held = held + s.live - s.queue_depth
                end
                ngx.print(held)
            }
        }
        location = /marks {
            content_by_lua_block {
                ngx.say("exit_start ", string.format("%%.6f", ngx.shared.marks:get("exit_start") or 0), " -")
                for _, key in ipairs({ %s }) do
                    local mark, ended = ngx.shared.marks:get(key), ngx.shared.marks:get("ended_" .. key)
                    ngx.say(key, " ", type(mark) == "number" and string.format("%%.6f", mark) or tostring(mark),
                            " ", type(ended) == "number" and string.format("%%.6f", ended) or tostring(ended))
                end
            }
        }
    }
}
]], opts.modules, opts.main or "", opts.lua_dir, timers(opts.calls), table.concat(keys, ", "))
end

-- opts: name (the runtime, for the log line), dir, port, binary, modules (load_module lines),
-- lua_dir, main (optional main-level lines: env ...), calls = list of { key, lib, cfg,
-- global, req, logged } where req waits in the runtime until it is cancelled and then marks
-- key; logged (optional) is a Lua pattern for a line the runtime logs before it marks.
-- Returns the lines the test says (none of them a timing).
function _M.run(opts)
    local out = {}
    local function say(...)
        out[#out + 1] = table.concat({ ... })
    end
    local inner = inner_nginx.new(opts.dir, inner_conf(opts), opts.port, opts.binary)
    assert(inner:start())
    local function get(path)
        return inner_nginx.sh("curl -s -m 5 http://127.0.0.1:" .. opts.port .. path)
    end
    local n = #opts.calls
    say("the runtime holds the calls: ", tostring(inner_nginx.wait_for(function()
        return get("/held") == tostring(n)
    end, 300)))
    -- A call the runtime took may not be waiting yet (an asyncio task not started, a
    -- handler not yet at its await): give it a moment before the exit begins.
    ngx.sleep(0.3)
    say("marks before the reload: ", (get("/marks"):gsub("^[^\n]*\n", ""):gsub("\n", "; ")))
    local old = inner:workers()
    ngx.update_time()
    local hup = ngx.now()
    inner:signal("HUP")
    say("old worker exited after the reload: ", tostring(inner_nginx.wait_for(function()
        return not inner_nginx.alive(old[1])
    end, 100)))
    ngx.update_time()
    ngx.log(ngx.NOTICE, "worker exit: ", opts.name, ": the old worker was gone ",
            string.format("%.2f", ngx.now() - hup), " s after the reload (exit deadline 1 s)")
    local exit_start
    for line in get("/marks"):gmatch("[^\n]+") do
        local key, mark, ended = line:match("^(%S+) (%S+) (%S+)$")
        local noticed, at = tonumber(mark), tonumber(ended)
        if key == "exit_start" then
            exit_start = noticed
        else
            say("the new worker reads ", key, ": ", noticed and "marked" or mark)
        end
        if noticed and at then
            ngx.log(ngx.NOTICE, "worker exit: ", opts.name, " ", key, ": noticed ",
                    string.format("%.3f", (noticed - at) * 1000), " ms after the Lua call ended (",
                    string.format("%.3f", (noticed - (exit_start or 0)) * 1000),
                    " ms after the exit began; its deadline: 1000 ms)")
        end
    end
    say("nginx stopped after quit: ", tostring(inner:stop("QUIT")))
    local log = inner:error_log()
    say("exit notice: ", tostring(log:find("worker exiting, " .. n .. " call%(s%) in flight end in 1000 ms") ~= nil))
    for _, c in ipairs(opts.calls) do
        local key = c.key:gsub("%p", "%%%0")
        say(c.key, ": timer call ended: ",
            inner_nginx.count(log, "timer call ended: " .. key .. " false worker exiting"),
            ", the exiting worker saw the mark: ",
            inner_nginx.count(log, "the exiting worker sees the mark: " .. key .. " true"))
        if c.logged then
            -- A line the runtime logged before it marked: the exiting worker wrote it.
            say(c.key, ": the runtime's line in the log: ", inner_nginx.count(log, c.logged))
        end
    end
    say("old worker exited with code 0: ",
        inner_nginx.count(log, "worker process " .. old[1] .. " exited with code 0"))
    say("alerts, errors, crashes: ", inner:alerts(true))
    return out
end

return _M
