-- Lua helpers the t/ suite shares (blocks that need them add t/lib to lua_package_path).
local _M = {}


-- Calls rt:call(cmd) until it answers `want` (for up to 2 s); returns its last answer.
function _M.wait_for_answer(rt, cmd, want)
    local got
    for _ = 1, 400 do
        got = select(2, rt:call(cmd))
        if got == want then
            return got
        end
        ngx.sleep(0.005)
    end
    return got
end


-- A request to this server that the caller closes after ms: a client abort.
function _M.abort_after(uri, ms)
    local sock = ngx.socket.tcp()
    assert(sock:connect("127.0.0.1", ngx.var.server_port))
    assert(sock:send("GET " .. uri .. " HTTP/1.1\r\nHost: localhost\r\n\r\n"))
    ngx.sleep(ms / 1000)
    sock:close()
end


return _M
