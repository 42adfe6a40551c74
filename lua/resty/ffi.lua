-- resty.ffi: call runtime libraries (Go, Python, Java, Rust, Node.js) from Lua
-- without blocking the nginx worker.
--
--   local resty_ffi = require "resty.ffi"
--   local rt, err = resty_ffi.load("ffi_echo", cfg, { max_queue = 1024, timeout = 3000 })
--   local ok, res_or_rc, rsp = rt:anyname(req)             -- or rt:anyname(req, { timeout = 500 })
--   rt:__unload()
--
-- `require "resty_ffi"` also installs this module's load as ngx.load_ffi (the original
-- lua-resty-ffi's API). Wrong argument types raise errors; failures return nil, err (loads)
-- or false, err (calls): a string err is the module's, a number is the runtime's rc.
--
-- The C side is ngx_http_resty_ffi_module (load_module it after ndk and lua).

local ffi = require "ffi"
local base = require "resty.core.base"
require "ngx.semaphore"   -- declares ngx_http_lua_sema_t and ngx_http_lua_ffi_sema_wait

local C = ffi.C
local ffi_new = ffi.new
local ffi_str = ffi.string
local ffi_gc = ffi.gc
local type = type
local tostring = tostring
local tonumber = tonumber
local setmetatable = setmetatable
local rawset = rawset
local floor = math.floor
local find = string.find
local sub = string.sub
local co_yield = coroutine._yield
local co_running = coroutine.running
local get_request = base.get_request
local get_string_buf = base.get_string_buf
local get_size_ptr = base.get_size_ptr
local get_phase = ngx.get_phase
local FFI_OK = base.FFI_OK
local FFI_ERROR = base.FFI_ERROR
local FFI_DECLINED = base.FFI_DECLINED


ffi.cdef[[
typedef struct ngx_http_resty_ffi_runtime_s ngx_http_resty_ffi_runtime_t;
typedef struct ngx_http_resty_ffi_task_s ngx_http_resty_ffi_task_t;

ngx_http_resty_ffi_runtime_t *ngx_http_resty_ffi_load(const char *lib,
    const char *cfg, int max_queue, int flags, unsigned char *err,
    size_t *errlen);
int ngx_http_resty_ffi_unload(ngx_http_resty_ffi_runtime_t *rt);
void ngx_http_resty_ffi_release(ngx_http_resty_ffi_runtime_t *rt);
ngx_http_resty_ffi_task_t *ngx_http_resty_ffi_post(ngx_http_request_t *r,
    ngx_http_resty_ffi_runtime_t *rt, const char *req, size_t len, int lend,
    uint64_t timeout_ms, size_t stream_window, ngx_http_lua_sema_t **psem,
    int *lent, size_t *released, unsigned char *err, size_t *errlen);
int ngx_http_resty_ffi_released(uint64_t *handles, int max);
long ngx_http_resty_ffi_lent_tasks(void);
int ngx_http_resty_ffi_stream_next(ngx_http_resty_ffi_task_t *task,
    const char **chunk, size_t *len);
int ngx_http_resty_ffi_wait_briefly(ngx_http_resty_ffi_task_t *task);
int ngx_http_resty_ffi_result(ngx_http_resty_ffi_task_t *task,
    const char **rsp, size_t *len, int *rc);
void ngx_http_resty_ffi_finish(ngx_http_resty_ffi_task_t *task);
int ngx_http_resty_ffi_abandon(ngx_http_resty_ffi_task_t *task);
long ngx_http_resty_ffi_live_tasks(void);
int ngx_http_resty_ffi_stats(unsigned char *buf, size_t *len);
int ngx_http_resty_ffi_telemetry(int on);
]]


local resty_ffi_load = C.ngx_http_resty_ffi_load
local resty_ffi_unload = C.ngx_http_resty_ffi_unload
local resty_ffi_release = C.ngx_http_resty_ffi_release
local resty_ffi_post = C.ngx_http_resty_ffi_post
local resty_ffi_wait_briefly = C.ngx_http_resty_ffi_wait_briefly
local resty_ffi_stream_next = C.ngx_http_resty_ffi_stream_next
local resty_ffi_result = C.ngx_http_resty_ffi_result
local resty_ffi_finish = C.ngx_http_resty_ffi_finish
local resty_ffi_abandon = C.ngx_http_resty_ffi_abandon
local resty_ffi_live_tasks = C.ngx_http_resty_ffi_live_tasks
local resty_ffi_released = C.ngx_http_resty_ffi_released
local resty_ffi_lent_tasks = C.ngx_http_resty_ffi_lent_tasks
local sema_wait = C.ngx_http_lua_ffi_sema_wait

local ERR_BUF_SIZE = 1024
-- Calls without a timeout option wait this long (cosockets' default too); 0: for ever.
local DEFAULT_TIMEOUT_MS = 60000
-- Responses from this size on become Lua strings under pcall (LuaJIT's limit is 2 GiB).
local LARGE_RESPONSE = 64 * 1024 * 1024
local DEFAULT_MAX_QUEUE = 65536
-- The largest stream window (2^53 bytes, a double's exact integers: in effect, none).
local MAX_WINDOW = 2 ^ 53
-- sema_wait takes an int of milliseconds: "no timeout" is the largest one (24.8 days).
local NO_TIMEOUT_MS = 2147483647
local FLAG_GLOBAL = 1
local FLAG_UNPIN = 2

-- Whether the running coroutine can yield. OpenResty's LuaJIT has no coroutine.isyieldable
-- (it is built without Lua 5.2 compatibility), but exports the C API's lua_isyieldable; a
-- coroutine's lua_State address is what string.format's %p gives for it (unlike tostring,
-- no metamethod can change that). The last coroutine's address is kept: a loop of calls in
-- one coroutine pays the lookup once.
local co_isyieldable = coroutine.isyieldable
if not co_isyieldable then
    pcall(ffi.cdef, "int lua_isyieldable(void *L);")
    local ok, isyieldable = pcall(function() return C.lua_isyieldable end)
    if not ok then
        error("resty_ffi: LuaJIT's lua_isyieldable is not exported by this nginx", 2)
    end
    local ffi_cast = ffi.cast
    local format = string.format
    local last_co, last_L
    co_isyieldable = function()
        local co = co_running()
        if co ~= last_co then
            local addr = tonumber(format("%p", co))
            if not addr then
                return false
            end
            last_co, last_L = co, ffi_cast("void *", addr)
        end
        return isyieldable(last_L) ~= 0
    end
end

local psem = ffi_new("ngx_http_lua_sema_t *[1]")
local prsp = ffi_new("const char *[1]")
local prc = ffi_new("int[1]")
local plent = ffi_new("int[1]")
local preleased = ffi_new("size_t[1]")
local RELEASED_BATCH = 64
local released_buf = ffi_new("uint64_t[?]", RELEASED_BATCH)
local cast = ffi.cast
local uintptr_t = ffi.typeof("uintptr_t")

-- Zero-copy requests. A request of at least LEND_MIN bytes is lent to the runtime: it reads
-- the Lua string's own bytes (immutable, never moved, NUL-terminated) instead of a copy, and
-- the string is anchored here, under its task's handle, until the task is freed: by Lua
-- itself after it read the answer, or by the module (a late answer after a timeout, a request
-- that ended), which then lists the handle for ngx_http_resty_ffi_released. Smaller requests
-- are cheaper to copy into the task's reused buffer than to anchor (bench/run.sh). Only the
-- worker's main VM lends (the module decides): a lua_code_cache off request's VM is closed
-- when the request ends, whatever is anchored in it.
local LEND_MIN = 2048
local anchors = {}    -- task handle (a number) -> the lent request string
local anchored = 0

local default_timeout_ms = DEFAULT_TIMEOUT_MS
-- Directories searched first for a bare library name (set_library_path).
local library_dirs = {}

-- Phases whose coroutines can yield to nginx (lua-nginx-module's semaphore contexts).
local YIELDABLE = {
    rewrite = true,
    access = true,
    content = true,
    timer = true,
}

local NOT_YIELDABLE = "cannot yield here: a runtime call cannot be made inside a C"
    .. " function (a string.gsub or table.sort callback, a metamethod called by a C"
    .. " function, the top level of a required module)"

-- The runtime object's own state lives under this key, so any method name is free.
local STATE = {}

local runtimes = {}   -- lib -> cfg (or NO_CFG) -> runtime object, per worker
local NO_CFG = {}


local _M = { version = "0.1.0" }


local function errbuf()
    local errlen = get_size_ptr()
    errlen[0] = ERR_BUF_SIZE
    return get_string_buf(ERR_BUF_SIZE), errlen
end


local function handle_key(task)
    return tonumber(cast(uintptr_t, task))
end


-- Frees a task whose answer Lua read; a lent request's string is let go of.
local function finish(task)
    resty_ffi_finish(task)
    if anchored > 0 then
        local key = handle_key(task)
        if anchors[key] ~= nil then
            anchors[key] = nil
            anchored = anchored - 1
        end
    end
end


-- Lets go of the strings of lent requests whose tasks the module freed.
local function drain_released()
    while true do
        local n = resty_ffi_released(released_buf, RELEASED_BATCH)
        for i = 0, n - 1 do
            local key = tonumber(released_buf[i])
            if anchors[key] ~= nil then
                anchors[key] = nil
                anchored = anchored - 1
            end
        end
        if n < RELEASED_BATCH then
            return
        end
    end
end


-- Posts a call or a stream; the task, or nil and the message.
local function post(r, handle, req, timeout_ms, window)
    local err, errlen = errbuf()
    local len = #req
    local task = resty_ffi_post(r, handle, req, len, len >= LEND_MIN and 1 or 0, timeout_ms,
                                window, psem, plent, preleased, err, errlen)
    if task == nil then
        return nil, ffi_str(err, errlen[0])
    end
    if plent[0] == 1 then
        anchors[handle_key(task)] = req
        anchored = anchored + 1
    end
    if preleased[0] > 0 and anchored > 0 then
        drain_released()
    end
    return task
end


-- Reads the finished task's answer and frees it.
local function collect(task)
    local len = get_size_ptr()
    local status = resty_ffi_result(task, prsp, len, prc)
    if status ~= 0 then
        -- 1: the worker is exiting and stopped waiting for this answer.
        return false, status == 1 and "worker exiting" or "unknown task"
    end
    local rc = prc[0]
    local rsp = prsp[0]
    if rsp ~= nil then
        local n = tonumber(len[0])
        if n < LARGE_RESPONSE then
            rsp = ffi_str(rsp, n)
        else
            -- LuaJIT strings hold less than 2 GiB, and a big one may not fit in memory.
            local ok, s = pcall(ffi_str, rsp, n)
            if not ok then
                finish(task)
                return false, "response of " .. n .. " bytes does not fit in a Lua string: "
                              .. tostring(s)
            end
            rsp = s
        end
    else
        rsp = nil
    end
    finish(task)
    if rc == 0 then
        return true, rsp
    end
    return false, rc, rsp
end


-- A timeout option in ms: a finite number >= 0 (0: no timeout) -> sema_wait's int of ms.
local function timeout_ms_of(t)
    local n = tonumber(t)
    -- (n ~= n: NaN)
    if not n or n ~= n or n < 0 or n == math.huge then
        return nil, "timeout: finite number of milliseconds >= 0 expected (0: none), got "
                    .. tostring(t)
    end
    if n == 0 or n >= NO_TIMEOUT_MS then
        return NO_TIMEOUT_MS
    end
    n = floor(n)
    return n < 1 and 1 or n
end


-- Why the running coroutine may not wait on a semaphore here, or nil: a phase that cannot
-- yield, or inside a C function (a string.gsub or table.sort callback, a metamethod that a C
-- function calls, a module's top level run by require). Checked before anything is queued or
-- a semaphore waiter is registered.
local function cannot_wait_here()
    local phase = get_phase()
    if not YIELDABLE[phase] then
        return "API disabled in the context of " .. tostring(phase) .. " (it cannot yield)"
    end
    if not co_isyieldable() then
        return NOT_YIELDABLE
    end
    return nil
end


-- What every call and stream does first: argument checks (wrong types raise), then where
-- the call may happen at all. Returns the runtime handle, the request and the wait in ms
-- (sema_wait's; NO_TIMEOUT_MS: for ever); or nil and the message to return.
local function prepare(self, req, opts, what)
    local st = type(self) == "table" and rawget(self, STATE)
    if not st then
        error("bad self: call runtime methods with a colon, rt:anyname(req)", 3)
    end
    if type(req) ~= "string" then
        error("bad argument #1 to runtime " .. what .. " (string expected, got " .. type(req)
              .. ")", 3)
    end
    local timeout_ms = st.timeout_ms or default_timeout_ms
    local window
    if opts ~= nil then
        if type(opts) ~= "table" then
            error("bad argument #2 to runtime " .. what .. " (table expected, got "
                  .. type(opts) .. ")", 3)
        end
        if opts.timeout ~= nil then
            local t, err = timeout_ms_of(opts.timeout)
            if not t then
                error("bad argument #2 to runtime " .. what .. " (" .. err .. ")", 3)
            end
            timeout_ms = t
        end
        window = opts.window
        if window ~= nil and (type(window) ~= "number" or window < 1 or window ~= window
                              or window == math.huge) then
            error("bad argument #2 to runtime " .. what
                  .. " (window: a number of bytes >= 1 expected, got " .. tostring(window) .. ")",
                  3)
        end
        if window then
            -- A size_t from a double: beyond 2^64 LuaJIT's conversion gives 0, which the
            -- module reads as "not a stream". 2^53 bytes is as good as no bound.
            window = floor(window)
            if window > MAX_WINDOW then
                window = MAX_WINDOW
            end
        end
    end

    local handle = st.handle
    if not handle then
        return nil, "runtime unloaded"
    end

    local r = get_request()
    if not r then
        return nil, "no request found (a runtime call needs a request, a timer or a"
                    .. " light thread)"
    end

    local err = cannot_wait_here()
    if err then
        return nil, err
    end
    return handle, r, timeout_ms, window
end


-- Waits on the task's semaphore; true when it was posted, else false and the message.
-- Not a tail call of the caller's, so the caller's frame stays while the coroutine sleeps.
local function wait(r, sem, timeout_ms)
    local err, errlen = errbuf()
    local ret = sema_wait(r, sem, timeout_ms, err, errlen)
    if ret == FFI_ERROR or ret == FFI_DECLINED then
        return false, ret == FFI_ERROR and ffi_str(err, errlen[0]) or "timeout"
    end
    if ret ~= FFI_OK then
        -- Parked: the eventfd handler posts the semaphore.
        local ok, werr = co_yield()
        if not ok then
            return false, werr or "timeout"
        end
    end
    return true
end


local function call(self, req, opts)
    local handle, r, timeout_ms = prepare(self, req, opts, "call")
    if not handle then
        return false, r
    end

    -- The runtime's deadline: none when the call waits for ever.
    local task, err = post(r, handle, req, timeout_ms == NO_TIMEOUT_MS and 0 or timeout_ms, 0)
    if not task then
        return false, err
    end

    -- The answer may come while the worker spins for it inside the call (a runtime thread
    -- was spinning for work and no other call is in flight): no semaphore wait, no yield.
    if resty_ffi_wait_briefly(task) == 1 then
        return collect(task)
    end

    local ok, msg = wait(r, psem[0], timeout_ms)
    if not ok then
        if resty_ffi_abandon(task) == 1 then
            return collect(task)
        end
        return false, msg
    end
    return collect(task)
end


-- A stream call's reader: s:read(), s:chunks(), s:close().
local Stream = {}
Stream.__index = Stream


-- The stream's task is no longer this object's: its handle goes, and the GC anchor's
-- finalizer is disarmed (a handle kept for long could name a reused slot once its
-- generation wrapped, 2^20 calls through that slot later).
local function stream_ended(self)
    self.task = nil
    local anchor = self.anchor
    if anchor then
        self.anchor = nil
        ffi_gc(anchor, nil)
    end
end
local pchunk = ffi_new("const char *[1]")


-- The next chunk; nil and why at the end: "eof" when the runtime answered rc 0 (its last
-- bytes, if any, came as the last chunk), its rc and message if it answered an error, or
-- "timeout", "closed", "worker exiting", ... Refused (nil and why, the stream goes on):
-- from another request than the one that opened it, where it cannot yield, and while
-- another light thread waits in read() ("busy reading").
function Stream:read()
    local task = self.task
    if not task then
        return nil, self.err
    end
    -- A read may wait on the stream's semaphore, which only the request that opened the
    -- stream may do, where it can yield: a coroutine that registered as the semaphore's
    -- waiter and then could not yield (or whose request ended while another request's
    -- waited) would be left in a semaphore that is freed or reused under it.
    local r = get_request()
    if r ~= self.r then
        return nil, r and "stream opened by another request (read it where it was opened)"
                      or "no request found"
    end
    local err = cannot_wait_here()
    if err then
        return nil, err
    end
    while true do
        local len = get_size_ptr()
        local rc = resty_ffi_stream_next(task, pchunk, len)
        if rc == 1 then
            local n = tonumber(len[0])
            if n < LARGE_RESPONSE then
                return ffi_str(pchunk[0], n)
            end
            -- As for an answer: a chunk may be too large for a Lua string, or for memory.
            local ok, chunk = pcall(ffi_str, pchunk[0], n)
            if ok then
                return chunk
            end
            -- The chunk is lost: the stream cannot go on whole.
            self:close()
            self.err = "chunk of " .. n .. " bytes does not fit in a Lua string: "
                       .. tostring(chunk)
            return nil, self.err
        end
        if rc == 2 then
            stream_ended(self)
            local ok, res, rsp = collect(task)
            if ok then
                self.err = "eof"
                if res and #res > 0 then
                    return res
                end
                return nil, "eof"
            end
            self.err, self.rsp = res, rsp
            return nil, res, rsp
        end
        if rc == 3 then
            -- Another light thread waits in read() on this stream: one reader at a time
            -- (a semaphore post wakes one waiter). The stream goes on.
            return nil, "busy reading"
        end
        if rc ~= 0 then
            stream_ended(self)
            self.err = "closed"
            return nil, "closed"
        end
        local ok, msg = wait(r, self.sem, self.timeout_ms)
        if not ok and resty_ffi_abandon(task) ~= 1 then
            -- The reader gave up (timeout): the stream ends, the runtime is told.
            stream_ended(self)
            self.err = msg
            return nil, msg
        end
        -- (abandon 1: the end came in the same tick; read what is left, without waiting.)
    end
end


-- for chunk in s:chunks() do ... end: every chunk; then s.err says why it ended ("eof").
function Stream:chunks()
    return function()
        return (self:read())
    end
end


-- Stops reading: the runtime is told (its send answers cancelled). True. Any request may
-- close a stream; a light thread waiting in read() wakes with "closed".
function Stream:close()
    local task = self.task
    if not task then
        return true
    end
    stream_ended(self)
    self.err = "closed"
    if resty_ffi_abandon(task) == 1 then
        finish(task)
    end
    return true
end


local DEFAULT_WINDOW = 256 * 1024

-- rt:stream_anyname(req, opts): the answer in chunks (see Stream); opts.timeout is the wait
-- for each chunk, opts.window the bytes in flight at most (default 256 KiB).
local function stream(self, req, opts)
    local handle, r, timeout_ms, window = prepare(self, req, opts, "stream")
    if not handle then
        return nil, r
    end
    local task, err = post(r, handle, req, 0, window or DEFAULT_WINDOW)
    if not task then
        return nil, err
    end
    -- A stream dropped unread (a loop over s:chunks() left early, in a request or timer
    -- that goes on) would keep the runtime sending into a full window until its request
    -- ends, holding a runtime thread: the GC closes it. The finalizer holds only the
    -- handle, which is refused once the task is freed (read to its end, or closed).
    local anchor = ffi_gc(ffi_new("char[1]"), function()
        if resty_ffi_abandon(task) == 1 then
            finish(task)   -- answered, never read
        end
    end)
    return setmetatable({ task = task, sem = psem[0], timeout_ms = timeout_ms, r = r,
                          anchor = anchor }, Stream)
end


local function unload(self)
    local st = type(self) == "table" and rawget(self, STATE)
    if not st or not st.handle then
        return false, "runtime unloaded"
    end
    local handle = st.handle
    st.handle = nil
    local by_cfg = runtimes[st.lib]
    if by_cfg and by_cfg[st.cfg] == self then
        by_cfg[st.cfg] = nil
    end
    ffi_gc(handle, nil)
    resty_ffi_unload(handle)
    return true
end


local mt = {
    __index = function(self, name)
        if name == "__unload" then
            return unload
        end
        if type(name) ~= "string" or find(name, "__", 1, true) == 1 then
            error("no runtime method " .. tostring(name)
                  .. " (names starting with __ are reserved; __unload is the only one)", 2)
        end
        if find(name, "stream_", 1, true) == 1 then
            rawset(self, name, stream)
            return stream
        end
        rawset(self, name, call)
        return call
    end,
}


-- `lib` as dlopen should get it: a bare name found in a set_library_path directory becomes
-- that file's path (also when it exists but cannot be read: dlopen then says why).
local function find_library(lib)
    if #library_dirs == 0 or find(lib, "/", 1, true) then
        return lib
    end
    local file = lib
    if sub(lib, -3) ~= ".so" and not find(lib, ".so.", 1, true) then
        file = "lib" .. lib .. ".so"   -- as the module reads a short name
    end
    for i = 1, #library_dirs do
        local path = library_dirs[i] .. "/" .. file
        local f, err = io.open(path, "rb")
        if f then
            f:close()
            return path
        end
        if not find(err, "No such file", 1, true) then
            return path
        end
    end
    return lib
end


-- The options of load: max_queue, flags, timeout_ms (nil: the default at call time).
-- Raises on a bad one.
local function check_opts(opts)
    local max_queue, flags, timeout_ms = DEFAULT_MAX_QUEUE, 0, nil
    if opts == nil then
        return max_queue, flags, timeout_ms
    end
    if type(opts) ~= "table" then
        error("bad argument #3 to 'load' (table expected, got " .. type(opts) .. ")", 3)
    end

    if opts.max_queue ~= nil then
        max_queue = tonumber(opts.max_queue)
        if not max_queue or max_queue < 1 or max_queue ~= floor(max_queue)
           or max_queue > 2147483647
        then
            error("bad argument #3 to 'load' (max_queue: positive integer expected, got "
                  .. tostring(opts.max_queue) .. ")", 3)
        end
    end

    if opts.timeout ~= nil then
        local err
        timeout_ms, err = timeout_ms_of(opts.timeout)
        if not timeout_ms then
            error("bad argument #3 to 'load' (" .. err .. ")", 3)
        end
    end

    if opts.is_global then
        flags = flags + FLAG_GLOBAL
    end
    if opts.unpin then
        flags = flags + FLAG_UNPIN
    end

    return max_queue, flags, timeout_ms
end


-- Loads a runtime library once per worker and (lib, cfg). A second load of the same pair
-- returns the same runtime; with options that differ from the first load's it fails.
function _M.load(lib, cfg, opts)
    if type(lib) ~= "string" or lib == "" then
        error("bad argument #1 to 'load' (non-empty string expected, got "
              .. (lib == "" and "an empty string" or type(lib)) .. ")", 2)
    end
    if cfg ~= nil and type(cfg) ~= "string" then
        error("bad argument #2 to 'load' (string or nil expected, got " .. type(cfg) .. ")", 2)
    end
    -- Both reach the runtime as C strings: a NUL byte would cut them short.
    if find(lib, "\0", 1, true) then
        error("bad argument #1 to 'load' (contains a NUL byte)", 2)
    end
    if cfg and find(cfg, "\0", 1, true) then
        error("bad argument #2 to 'load' (contains a NUL byte)", 2)
    end
    local max_queue, flags, timeout_ms = check_opts(opts)

    local phase = get_phase()
    if phase == "init" then
        return nil, "cannot load a runtime in init_by_lua*: runtimes belong to"
                    .. " worker processes (use init_worker_by_lua* or later)"
    end

    local cfg_key = cfg == nil and NO_CFG or cfg
    local by_cfg = runtimes[lib]
    local rt = by_cfg and by_cfg[cfg_key]
    if rt then
        local st = rawget(rt, STATE)
        if opts ~= nil and (st.max_queue ~= max_queue or st.flags ~= flags
                            or st.timeout_ms ~= timeout_ms)
        then
            return nil, "runtime " .. lib .. " is loaded already with other options"
                        .. " (a runtime is loaded once per worker, lib and cfg): load it"
                        .. " with the same options, or without any, or unload it first"
        end
        return rt
    end

    local err, errlen = errbuf()
    local handle = resty_ffi_load(find_library(lib), cfg, max_queue, flags, err, errlen)
    if handle == nil then
        return nil, ffi_str(err, errlen[0])
    end
    -- The runtime belongs to the worker, shared by its Lua VMs (one per request with
    -- lua_code_cache off): a VM that ends only gives its reference back.
    handle = ffi_gc(handle, resty_ffi_release)

    rt = setmetatable({
        [STATE] = { handle = handle, lib = lib, cfg = cfg_key, timeout_ms = timeout_ms,
                    max_queue = max_queue, flags = flags },
    }, mt)
    if not by_cfg then
        by_cfg = {}
        runtimes[lib] = by_cfg
    end
    by_cfg[cfg_key] = rt
    return rt
end


-- The original lua-resty-ffi's name.
_M.load_ffi = _M.load


-- How long calls without a timeout option wait, for every runtime of this worker that
-- was loaded without one: ms >= 0, 0 for ever (default 60000).
function _M.set_default_timeout(ms)
    local t, err = timeout_ms_of(ms)
    if not t then
        error("bad argument #1 to 'set_default_timeout' (" .. err .. ")", 2)
    end
    default_timeout_ms = t
end


-- Directories searched for bare library names before the dynamic linker's own search
-- (which reads LD_LIBRARY_PATH only as the nginx master started): "dir1:dir2", a table of
-- directories, or nil for none.
function _M.set_library_path(dirs)
    local list = {}
    if type(dirs) == "string" then
        for d in dirs:gmatch("[^:]+") do
            list[#list + 1] = d
        end
    elseif type(dirs) == "table" then
        for i, d in ipairs(dirs) do
            if type(d) ~= "string" then
                error("bad argument #1 to 'set_library_path' (directory " .. i
                      .. " is not a string)", 2)
            end
            list[i] = d
        end
    elseif dirs ~= nil then
        error("bad argument #1 to 'set_library_path' (string, table or nil expected, got "
              .. type(dirs) .. ")", 2)
    end
    library_dirs = list
end


-- Tasks allocated and not yet freed in this worker.
-- This worker's numbers per loaded runtime (calls, results, queue and service times): see
-- resty.ffi.metrics, which also renders every worker's numbers for Prometheus.
function _M.stats()
    return require("resty.ffi.metrics").stats()
end


-- Telemetry on (the default) or off in this worker; returns the previous setting.
function _M.set_telemetry(on)
    return require("resty.ffi.metrics").set_telemetry(on)
end


function _M.live_tasks()
    return tonumber(resty_ffi_live_tasks())
end


-- Zero-copy bookkeeping, for tests: the lent strings this VM still anchors (after letting
-- go of those whose tasks were freed), and the worker's lent tasks not freed yet.
function _M.lent()
    if anchored > 0 then
        drain_released()
    end
    return anchored, tonumber(resty_ffi_lent_tasks())
end


return _M
