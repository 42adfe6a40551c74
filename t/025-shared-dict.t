# vim:set ft= ts=4 sw=4 et fdm=marker:
# Runtimes read and write nginx's shared dictionaries (lua_shared_dict): the same values,
# flags and expiry as Lua's ngx.shared.DICT, both ways; full zones; errors; and many threads
# in two workers incrementing one key beside Lua.

use lib '.';
use t::TestFFI 'no_plan';

# Every block's http_config (t::TestFFI), unless it has its own.
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict d 1m;
    lua_shared_dict small 64k;
    init_worker_by_lua_block { require "resty_ffi" }
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: values and flags round-trip both ways, every type
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = ngx.load_ffi("ffi_test")
            -- Lua writes, the runtime reads.
            d:set("s", "hello\0world", 0, 7)
            d:set("n", 3.25)
            d:set("b", true)
            d:set("f", false)
            for _, k in ipairs({ "s", "n", "b", "f", "absent" }) do
                ngx.say(k, ": ", select(2, rt:call("dict_get d " .. k)))
            end
            -- The runtime writes, Lua reads.
            ngx.say(select(2, rt:call("dict_store d 0 rs string 0 9 bytes\0and more")))
            ngx.say(select(2, rt:call("dict_store d 0 rn number 0 0 -12.5")))
            ngx.say(select(2, rt:call("dict_store d 0 rb boolean 0 0 true")))
            ngx.say(select(2, rt:call("dict_store d 0 rf boolean 0 0 false")))
            local v, flags = d:get("rs")
            ngx.say("rs: ", v == "bytes\0and more", " flags ", flags)
            ngx.say("rn: ", d:get("rn"), " rb: ", d:get("rb"), " rf: ", d:get("rf"))
            -- type nil deletes
            ngx.say(select(2, rt:call("dict_store d 0 rs nil 0 0 -")))
            ngx.say("rs after delete: ", d:get("rs"))
            -- a big value (beyond the module's small buffer) both ways
            d:set("big", string.rep("x", 100000))
            local _, big = rt:call("dict_get d big")
            ngx.say("big: ", #big == #"string " + 100000 + #" flags=0")
        }
    }
--- request
GET /t
--- response_body eval
"s: string hello\0world flags=7
n: number 3.25 flags=0
b: boolean true flags=0
f: boolean false flags=0
absent: nil flags=0
stored
stored
stored
stored
rs: true flags 9
rn: -12.5 rb: true rf: false
stored
rs after delete: nil
big: true
"



=== TEST 2: expiry set by either side is honoured by the other
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = ngx.load_ffi("ffi_test")
            rt:call("dict_store d 0 short string 100 0 soon gone")
            ngx.say("lua sees: ", d:get("short"))
            local ttl = d:ttl("short")
            ngx.say("lua ttl in (0, 0.1]: ", ttl > 0 and ttl <= 0.1)
            d:set("lua_short", "x", 0.1)
            local _, ms = rt:call("dict_ttl d lua_short")
            ngx.say("runtime ttl in (0, 100]: ", tonumber(ms) > 0 and tonumber(ms) <= 100)
            ngx.say("runtime ttl of a key without expiry: ", select(2, rt:call("dict_ttl d n0")))
            d:set("n0", 1)
            ngx.say("runtime ttl of a key without expiry: ", select(2, rt:call("dict_ttl d n0")))
            ngx.sleep(0.25)
            ngx.say("lua after expiry: ", d:get("short"))
            ngx.say("runtime after expiry: ", select(2, rt:call("dict_get d lua_short")))
        }
    }
--- request
GET /t
--- response_body
lua sees: soon gone
lua ttl in (0, 0.1]: true
runtime ttl in (0, 100]: true
runtime ttl of a key without expiry: -1
runtime ttl of a key without expiry: 0
lua after expiry: nil
runtime after expiry: nil flags=0



=== TEST 3: add, replace, incr and errors answer as Lua's do
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = ngx.load_ffi("ffi_test")
            local function say(cmd) ngx.say(cmd, " -> ", select(2, rt:call(cmd))) end
            d:set("k", "v")
            say("dict_store d 1 k string 0 0 again")     -- add an existing key
            say("dict_store d 2 missing string 0 0 x")   -- replace a missing key
            say("dict_store d 2 k string 0 0 new")       -- replace
            ngx.say("lua: ", d:get("k"))
            say("dict_incr d counter 1")                  -- no init: not found
            say("dict_incr d counter 5 10")               -- init 10, + 5
            say("dict_incr d counter -2.5")
            ngx.say("lua incr: ", d:incr("counter", 1))
            say("dict_incr d k 1")                        -- not a number
            say("dict_get nosuch k")                      -- no such zone
            say("dict_get d ")                            -- empty key
            say("dict_store d 9 k string 0 0 x")          -- bad op
        }
    }
--- request
GET /t
--- response_body
dict_store d 1 k string 0 0 again -> declined exists
dict_store d 2 missing string 0 0 x -> declined not found
dict_store d 2 k string 0 0 new -> stored
lua: new
dict_incr d counter 1 -> declined not found
dict_incr d counter 5 10 -> value 15
dict_incr d counter -2.5 -> value 12.5
lua incr: 13.5
dict_incr d k 1 -> declined not a number
dict_get nosuch k -> error no lua_shared_dict of that name in nginx.conf
dict_get d  -> error empty key
dict_store d 9 k string 0 0 x -> error bad operation



=== TEST 4: a full zone evicts (forcible) for set and says "no memory" for safe set, as for Lua
--- config
    location = /t {
        content_by_lua_block {
            local small = ngx.shared.small
            local rt = ngx.load_ffi("ffi_test")
            local v = string.rep("v", 4000)
            local forcible_seen, stored = false, 0
            for i = 1, 40 do
                local _, res = rt:call("dict_store small 0 k" .. i .. " string 0 0 " .. v)
                if res == "stored forcible" then forcible_seen = true end
                if res:find("^stored") then stored = stored + 1 end
            end
            ngx.say("all stored: ", stored == 40, ", evicted for room: ", forcible_seen)
            local _, res = rt:call("dict_store small 4 another string 0 0 " .. v)
            ngx.say("safe set on a full zone: ", res)
            local ok, err = small:safe_set("lua_another", v)
            ngx.say("Lua's safe_set: ", ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
all stored: true, evicted for room: true
safe set on a full zone: error no memory
Lua's safe_set: false no memory
