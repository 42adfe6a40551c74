-- The bridge's own numbers: this worker's as a Lua table (stats), every worker's in the
-- Prometheus text exposition format (prometheus), through a lua_shared_dict that each
-- worker publishes its numbers to (enable).
--
--   http { lua_shared_dict resty_ffi_metrics 1m;
--          init_worker_by_lua_block { require("resty.ffi.metrics").enable("resty_ffi_metrics") } }
--   location = /metrics { content_by_lua_block {
--          ngx.print(require("resty.ffi.metrics").prometheus()) } }
--
-- Counters count from each worker's start; a worker that exits (reload, crash) takes its
-- numbers with it once its last publication expires, which Prometheus sees as a counter
-- reset (rate() and increase() handle it).

local ffi = require "ffi"
local base = require "resty.core.base"
require "resty.ffi"   -- its ffi.cdef declares the C functions used here

local C = ffi.C
local ffi_str = ffi.string
local get_string_buf = base.get_string_buf
local get_size_ptr = base.get_size_ptr
local tonumber, tostring, type, pairs, ipairs, error = tonumber, tostring, type, pairs, ipairs, error
local concat, sort = table.concat, table.sort
local char, fmt = string.char, string.format
local resty_ffi_stats = C.ngx_http_resty_ffi_stats
local resty_ffi_telemetry = C.ngx_http_resty_ffi_telemetry

local _M = {}

-- The histogram buckets' upper bounds in seconds (src/telemetry.rs BUCKETS_NS), then +Inf.
local BOUNDS = { 1e-05, 2.5e-05, 5e-05, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }
local HISTOGRAMS = { "queue_wait", "service", "total" }
-- What became of calls that were queued, as counted by the module.
local RESULTS = { "ok", "runtime_error", "error", "panicked", "dropped", "no_memory",
                  "cancelled", "other_negative", "timeout", "gone", "exiting" }
local REFUSALS = { "queue_full", "unloaded" }

local buf_size = 4096

-- This worker's numbers as the module writes them (one line each, tab-separated).
local function stats_text()
    while true do
        local buf = get_string_buf(buf_size)
        local len = get_size_ptr()
        len[0] = buf_size
        local rc = resty_ffi_stats(buf, len)
        if rc == 0 then
            return ffi_str(buf, len[0])
        end
        if rc ~= 1 then
            return nil, "the module's numbers are not available"
        end
        buf_size = tonumber(len[0]) + 1024
    end
end


local function unescape(s)
    return (s:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end


local function split_tabs(line)
    local fields, n = {}, 0
    for f in (line .. "\t"):gmatch("([^\t]*)\t") do
        n = n + 1
        fields[n] = f
    end
    return fields
end


-- Text -> { { runtime = lib, cfg = cfg or nil, calls = n, ..., queue_wait = { count, sum,
-- buckets = { per bucket, not cumulative } }, ... }, ... }
local function parse(text)
    local list, cur = {}, nil
    for line in text:gmatch("[^\n]+") do
        local f = split_tabs(line)
        local kind = f[1]
        if kind == "runtime" then
            cur = { runtime = unescape(f[2]), cfg = f[4] == "1" and unescape(f[3]) or nil }
            list[#list + 1] = cur
        elseif cur and (kind == "c" or kind == "g") then
            cur[f[2]] = tonumber(f[3])
        elseif cur and kind == "h" then
            local buckets = {}
            for i = 5, #f do
                buckets[#buckets + 1] = tonumber(f[i])
            end
            cur[f[2]] = { count = tonumber(f[3]), sum = tonumber(f[4]) / 1e9, buckets = buckets }
        end
    end
    return list
end


-- This worker's numbers per loaded runtime: a list of tables (see the README).
function _M.stats()
    local text, err = stats_text()
    if not text then
        return nil, err
    end
    return parse(text)
end


-- Telemetry on (the default) or off in this worker; returns the previous setting.
function _M.set_telemetry(on)
    if type(on) ~= "boolean" then
        error("bad argument #1 to 'set_telemetry' (boolean expected, got " .. type(on) .. ")", 2)
    end
    return resty_ffi_telemetry(on and 1 or 0) == 1
end


local dict, interval, prefix = nil, nil, "resty_ffi:"

local function publish()
    local text = stats_text()
    if text then
        -- Kept a few intervals: a worker that is gone stops counting soon after.
        dict:set(prefix .. ngx.worker.pid(), text, interval * 5)
    end
end


-- In init_worker_by_lua*: this worker publishes its numbers to the lua_shared_dict
-- `dict_name` every `every` seconds (default 1), for prometheus() in any worker.
function _M.enable(dict_name, every)
    local d = ngx.shared[dict_name]
    if not d then
        error("bad argument #1 to 'enable' (no lua_shared_dict " .. tostring(dict_name) .. ")", 2)
    end
    every = every or 1
    -- (NaN passed "<= 0" and made a timer that never fired; math.huge raised from
    -- ngx.timer.every with "delay cannot be zero")
    if type(every) ~= "number" or every ~= every or every < 0.001 or every > 86400 then
        error("bad argument #2 to 'enable' (seconds from 0.001 to 86400 expected, got "
              .. tostring(every) .. ")", 2)
    end
    dict, interval = d, every
    local ok, err = ngx.timer.every(every, function(premature)
        if not premature then
            publish()
        end
    end)
    if not ok then
        return nil, "cannot start the publishing timer: " .. tostring(err)
    end
    return true
end


local function label_value(s)
    return (s:gsub("\\", "\\\\"):gsub("\"", "\\\""):gsub("\n", "\\n"))
end


local function labels(rt, extra)
    local s = 'runtime="' .. label_value(rt.runtime) .. '",cfg="' .. label_value(rt.cfg or "") .. '"'
    if extra then
        s = s .. "," .. extra
    end
    return "{" .. s .. "}"
end


-- Sums every worker's numbers per (runtime, cfg).
local function aggregate()
    publish()
    local by_key, order = {}, {}
    for _, key in ipairs(dict:get_keys(0)) do
        if key:sub(1, #prefix) == prefix then
            local text = dict:get(key)
            for _, rt in ipairs(text and parse(text) or {}) do
                local k = rt.runtime .. "\0" .. (rt.cfg and ("1" .. rt.cfg) or "0")
                local agg = by_key[k]
                if not agg then
                    agg = { runtime = rt.runtime, cfg = rt.cfg }
                    by_key[k] = agg
                    order[#order + 1] = k
                end
                for name, v in pairs(rt) do
                    if type(v) == "number" then
                        agg[name] = (agg[name] or 0) + v
                    elseif type(v) == "table" then
                        local h = agg[name]
                        if not h then
                            h = { count = 0, sum = 0, buckets = {} }
                            agg[name] = h
                        end
                        h.count = h.count + v.count
                        h.sum = h.sum + v.sum
                        for i, n in ipairs(v.buckets) do
                            h.buckets[i] = (h.buckets[i] or 0) + n
                        end
                    end
                end
            end
        end
    end
    sort(order)
    local list = {}
    for i, k in ipairs(order) do
        list[i] = by_key[k]
    end
    return list
end


local function family(out, name, kind, help)
    out[#out + 1] = "# HELP " .. name .. " " .. help
    out[#out + 1] = "# TYPE " .. name .. " " .. kind
end


local HISTOGRAM_NAMES = {
    queue_wait = { "resty_ffi_queue_wait_seconds", "Time from the call's post to a runtime thread taking it." },
    service = { "resty_ffi_service_seconds", "Time from a runtime thread taking the call to its answer." },
    total = { "resty_ffi_call_duration_seconds", "Time from the call's post to the Lua caller reading the answer." },
}


-- Every worker's numbers (those that called enable), summed per runtime, in the Prometheus
-- text exposition format (version 0.0.4).
function _M.prometheus()
    if not dict then
        return nil, "metrics are not enabled: call require('resty.ffi.metrics').enable(dict)"
                    .. " in init_worker_by_lua*"
    end
    local list = aggregate()
    local out = {}
    family(out, "resty_ffi_calls_total", "counter", "Calls queued to a runtime.")
    for _, rt in ipairs(list) do
        out[#out + 1] = "resty_ffi_calls_total" .. labels(rt) .. " " .. (rt.calls or 0)
    end
    family(out, "resty_ffi_call_results_total", "counter",
           "What became of queued calls: the answer's kind as the caller read it, or why the caller gave up.")
    for _, rt in ipairs(list) do
        for _, r in ipairs(RESULTS) do
            out[#out + 1] = "resty_ffi_call_results_total" .. labels(rt, 'result="' .. r .. '"')
                            .. " " .. (rt[r] or 0)
        end
    end
    family(out, "resty_ffi_calls_refused_total", "counter", "Calls refused before being queued.")
    for _, rt in ipairs(list) do
        for _, r in ipairs(REFUSALS) do
            out[#out + 1] = "resty_ffi_calls_refused_total" .. labels(rt, 'reason="' .. r .. '"')
                            .. " " .. (rt[r] or 0)
        end
    end
    family(out, "resty_ffi_calls_in_flight", "gauge", "Calls queued and not yet freed.")
    for _, rt in ipairs(list) do
        out[#out + 1] = "resty_ffi_calls_in_flight" .. labels(rt) .. " " .. (rt.live or 0)
    end
    family(out, "resty_ffi_queue_depth", "gauge", "Calls waiting for a runtime thread.")
    for _, rt in ipairs(list) do
        out[#out + 1] = "resty_ffi_queue_depth" .. labels(rt) .. " " .. (rt.queue_depth or 0)
    end
    for _, h in ipairs(HISTOGRAMS) do
        local name, help = HISTOGRAM_NAMES[h][1], HISTOGRAM_NAMES[h][2]
        family(out, name, "histogram", help)
        for _, rt in ipairs(list) do
            local hist = rt[h] or { count = 0, sum = 0, buckets = {} }
            local cum = 0
            for i, le in ipairs(BOUNDS) do
                cum = cum + (hist.buckets[i] or 0)
                out[#out + 1] = name .. "_bucket" .. labels(rt, fmt('le="%s"', tostring(le)))
                                .. " " .. cum
            end
            out[#out + 1] = name .. "_bucket" .. labels(rt, 'le="+Inf"') .. " " .. hist.count
            out[#out + 1] = name .. "_sum" .. labels(rt) .. " " .. fmt("%.9f", hist.sum)
            out[#out + 1] = name .. "_count" .. labels(rt) .. " " .. hist.count
        end
    end
    out[#out + 1] = ""
    return concat(out, "\n")
end


return _M
