# vim:set ft= ts=4 sw=4 et fdm=marker:
# runtimes/rust/examples/argon2: CPU-heavy work on the runtime's threads while nginx keeps serving.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: hash, then verify the right and a wrong password
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_argon2")
            local ok, hash = rt:argon2('{"op":"hash","password":"s3cret"}')
            ngx.say(ok, " ", hash:sub(1, 10))
            local req = '{"op":"verify","password":"%s","hash":"%s"}'
            ngx.say(select(2, rt:argon2(req:format("s3cret", hash))))
            ngx.say(select(2, rt:argon2(req:format("wrong", hash))))
            ngx.say(rt:argon2('{"op":"fly"}'))
            ngx.say("live: ", require("resty_ffi").live_tasks())
        }
    }
--- request
GET /t
--- response_body_like
^true \$argon2id\$
true
false
false400bad request: unknown variant `fly`, expected `hash` or `verify`.*
live: 0



=== TEST 2: other requests are served while 20 hashes are in flight
--- config
    location = /fast {
        return 200 "fast\n";
    }
    location = /t {
        content_by_lua_block {
            -- Expensive parameters: the 20 calls keep both runtime threads busy for a while.
            local rt = ngx.load_ffi("ffi_argon2", '{"threads":2,"m_cost_kib":65536,"t_cost":3}')
            local threads = {}
            for i = 1, 20 do
                threads[i] = ngx.thread.spawn(function()
                    return rt:argon2('{"op":"hash","password":"p' .. i .. '"}')
                end)
            end
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", ngx.var.server_port))
            sock:send("GET /fast HTTP/1.0\r\nHost: localhost\r\n\r\n")
            local resp = sock:receive("*a")
            local pending = 0
            for i = 1, 20 do
                if coroutine.status(threads[i]) ~= "dead" then pending = pending + 1 end
            end
            ngx.say("fast served: ", resp:find("fast", 1, true) ~= nil, ", hashes still in flight: ", pending > 0)
            local good = 0
            for i = 1, 20 do
                local _, ok, hash = ngx.thread.wait(threads[i])
                if ok and hash:find("^%$argon2id%$") then good = good + 1 end
            end
            ngx.say("hashes: ", good)
        }
    }
--- request
GET /t
--- response_body
fast served: true, hashes still in flight: true
hashes: 20
--- timeout: 30
