-- Test harness (not part of resty-ffi): an "inner" nginx that a t/ test starts with its own
-- config, drives with wrk, signals and inspects. Blocking os.execute/io.popen are fine here:
-- they run in the test's outer nginx, not in the system under test.

local _M = {}
local mt = { __index = _M }

function _M.sh(cmd)
    local p = assert(io.popen(cmd))
    local out = p:read("*a")
    p:close()
    return out
end

function _M.alive(pid)
    return pid ~= nil and os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0
end

-- Occurrences of a Lua pattern in text.
function _M.count(text, pattern)
    local n = 0
    for _ in text:gmatch(pattern) do n = n + 1 end
    return n
end

-- Polls check() every 0.1 s, at most `tries` times (default 80).
function _M.wait_for(check, tries)
    for _ = 1, tries or 80 do
        if check() then return true end
        ngx.sleep(0.1)
    end
    return false
end

-- A fresh prefix dir with conf/nginx.conf = conf (PORT replaced by port), to be run by the
-- nginx binary under test (tests pass "$TEST_NGINX_BINARY": workers do not see the env).
function _M.new(dir, conf, port, binary)
    os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir .. "/logs " .. dir .. "/conf")
    local f = assert(io.open(dir .. "/conf/nginx.conf", "w"))
    f:write((conf:gsub("PORT", port)))
    f:close()
    return setmetatable({ dir = dir, port = port, binary = binary }, mt)
end

function _M:start()
    return os.execute(self.binary .. " -p " .. self.dir .. "/ -c conf/nginx.conf") == 0
end

function _M:master()
    local fh = io.open(self.dir .. "/logs/nginx.pid")
    if not fh then return nil end
    local pid = fh:read("*l")
    fh:close()
    return pid
end

function _M:workers()
    local list = {}
    for pid in _M.sh("pgrep -P " .. (self:master() or "0")):gmatch("%d+") do
        list[#list + 1] = pid
    end
    return list
end

-- Sends a signal (HUP, QUIT, TERM, USR1, ...) to the master.
function _M:signal(sig)
    os.execute("kill -" .. sig .. " " .. self:master())
end

-- Signals the master and waits until it is gone; true if it went.
function _M:stop(sig)
    local master = self:master()
    self:signal(sig)
    return _M.wait_for(function() return not _M.alive(master) end)
end

function _M:error_log()
    return _M.sh("cat " .. self.dir .. "/logs/error.log")
end

-- [alert], [crit], [emerg] (and, with with_errors, [error]) lines and crashed workers.
function _M:alerts(with_errors)
    local log = self:error_log()
    local n = _M.count(log, "%[alert%]") + _M.count(log, "%[crit%]")
              + _M.count(log, "%[emerg%]") + _M.count(log, "exited on signal")
    if with_errors then
        n = n + _M.count(log, "%[error%]")
    end
    return n
end

-- Starts wrk in the background against path, for `seconds`.
function _M:wrk(path, connections, seconds)
    os.execute(string.format("wrk -t2 -c%d -d%ds http://127.0.0.1:%d%s > %s/wrk.txt 2>&1 &",
                             connections, seconds, self.port, path, self.dir))
end

-- Requests wrk completed (after it ended).
function _M:wrk_requests()
    return tonumber(_M.sh("cat " .. self.dir .. "/wrk.txt"):match("(%d+) requests in") or 0)
end

return _M
