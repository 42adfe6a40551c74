# vim:set ft= ts=4 sw=4 et fdm=marker:
# The SDKs' shared dictionary wrappers (Rust SharedDict, Go restyffi.SharedDict, Python
# resty_ffi.shared_dict, Java resty.ffi.SharedDict, Node.js sharedDict): values round-trip
# with Lua's ngx.shared.DICT both ways; add, replace, incr, ttl, expire and their errors; the
# Go example ratelimit.

use lib '.';
use t::TestFFI 'no_plan';

our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    lua_shared_dict d 1m;
    init_worker_by_lua_block { require "resty_ffi" }
_EOC_

# Java: runtimes/java/test-env.sh exports CLASSPATH (the test runtimes) and JAVA_OPTS.
our $MainConfig = <<'_EOC_';
    env CLASSPATH;
    env JAVA_OPTS;
_EOC_

no_long_string();
run_tests();

__DATA__

=== TEST 1: Rust SDK: values round-trip with Lua both ways
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = ngx.load_ffi("ffi_sdk_test", [[{"mode":"pool","threads":2}]])
            local function say(cmd)
                local ok, res, msg = rt:call(cmd)
                ngx.say(cmd, " -> ", ok and res or msg)
            end
            d:set("s", "hello\0world", 0, 7)
            d:set("n", 3.25)
            d:set("b", true)
            d:set("f", false)
            for _, k in ipairs({ "s", "n", "b", "f", "absent" }) do
                ngx.say(k, ": ", select(2, rt:call("shd get d " .. k)))
            end
            say("shd set d rs 0 string bytes and more")
            say("shd set d rn 0 number -12.5")
            say("shd set d rb 0 boolean true")
            say("shd set d rf 0 boolean false")
            ngx.say("lua: ", d:get("rs"), " ", d:get("rn"), " ", d:get("rb"), " ", d:get("rf"))
            say("shd delete d rs")
            ngx.say("lua after delete: ", d:get("rs"))
            d:set("big", string.rep("x", 100000))
            local _, big = rt:call("shd get d big")
            ngx.say("big: ", big == "string " .. string.rep("x", 100000) .. " flags=0")
            say("shd get nosuch k")
            say("shd get d ")
        }
    }
--- request
GET /t
--- response_body eval
"s: string hello\0world flags=7
n: number 3.25 flags=0
b: boolean true flags=0
f: boolean false flags=0
absent: nil  flags=0
shd set d rs 0 string bytes and more -> stored
shd set d rn 0 number -12.5 -> stored
shd set d rb 0 boolean true -> stored
shd set d rf 0 boolean false -> stored
lua: bytes and more -12.5 true false
shd delete d rs -> deleted
lua after delete: nil
big: true
shd get nosuch k -> no shared dictionary \"nosuch\"
shd get d  -> empty key
"



=== TEST 2: Rust SDK: add, replace, incr, ttl and expire answer as Lua's do
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = ngx.load_ffi("ffi_sdk_test", [[{"mode":"pool","threads":2}]])
            local function say(cmd)
                local ok, res, msg = rt:call(cmd)
                ngx.say(cmd, " -> ", ok and res or msg)
            end
            d:set("k", "v")
            say("shd add d k 0 string again")
            say("shd add d k2 0 string first")
            say("shd replace d missing 0 string x")
            say("shd replace d k 0 string new")
            ngx.say("lua: ", d:get("k"), " ", d:get("k2"))
            say("shd incr d counter 1")
            say("shd incr d counter 5 10")
            say("shd incr d counter -2.5")
            ngx.say("lua incr: ", d:incr("counter", 1))
            say("shd incr d counter 1")
            say("shd incr d k 1")
            say("shd ttl d counter")
            say("shd ttl d missing")
            say("shd set d short 100 string soon gone")
            local ttl = d:ttl("short")
            ngx.say("lua ttl in (0, 0.1]: ", ttl > 0 and ttl <= 0.1)
            d:set("lua_short", "x", 0.1)
            local _, ms = rt:call("shd ttl d lua_short")
            ngx.say("runtime ttl in (0, 100]: ", tonumber(ms) > 0 and tonumber(ms) <= 100)
            say("shd expire d k 100")
            say("shd expire d missing 100")
            say("shd incr d fresh 1 0 100")
            ngx.sleep(0.25)
            ngx.say("after expiry: ", d:get("short"), " ", d:get("k"), " ", d:get("fresh"))
            say("shd get d lua_short")
        }
    }
--- request
GET /t
--- response_body
shd add d k 0 string again -> exists
shd add d k2 0 string first -> stored
shd replace d missing 0 string x -> not found
shd replace d k 0 string new -> stored
lua: new first
shd incr d counter 1 -> not found
shd incr d counter 5 10 -> 15
shd incr d counter -2.5 -> 12.5
lua incr: 13.5
shd incr d counter 1 -> 14.5
shd incr d k 1 -> not a number
shd ttl d counter -> never
shd ttl d missing -> not found
shd set d short 100 string soon gone -> stored
lua ttl in (0, 0.1]: true
runtime ttl in (0, 100]: true
shd expire d k 100 -> expired
shd expire d missing 100 -> not found
shd incr d fresh 1 0 100 -> 1
after expiry: nil nil nil
shd get d lua_short -> nil  flags=0



=== TEST 3: Go SDK: values round-trip with Lua both ways
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = ngx.load_ffi("ffi_go_test")
            local function say(cmd)
                local ok, res, msg = rt:call(cmd)
                ngx.say(cmd, " -> ", ok and res or msg)
            end
            d:set("s", "hello\0world", 0, 7)
            d:set("n", 3.25)
            d:set("b", true)
            d:set("f", false)
            for _, k in ipairs({ "s", "n", "b", "f", "absent" }) do
                ngx.say(k, ": ", select(2, rt:call("shd get d " .. k)))
            end
            say("shd set d rs 0 string bytes and more")
            say("shd set d rn 0 number -12.5")
            say("shd set d rb 0 boolean true")
            say("shd set d rf 0 boolean false")
            ngx.say("lua: ", d:get("rs"), " ", d:get("rn"), " ", d:get("rb"), " ", d:get("rf"))
            say("shd delete d rs")
            ngx.say("lua after delete: ", d:get("rs"))
            d:set("big", string.rep("x", 100000))
            local _, big = rt:call("shd get d big")
            ngx.say("big: ", big == "string " .. string.rep("x", 100000) .. " flags=0")
            say("shd get nosuch k")
            say("shd get d ")
        }
    }
--- request
GET /t
--- response_body eval
"s: string hello\0world flags=7
n: number 3.25 flags=0
b: boolean true flags=0
f: boolean false flags=0
absent: nil  flags=0
shd set d rs 0 string bytes and more -> stored
shd set d rn 0 number -12.5 -> stored
shd set d rb 0 boolean true -> stored
shd set d rf 0 boolean false -> stored
lua: bytes and more -12.5 true false
shd delete d rs -> deleted
lua after delete: nil
big: true
shd get nosuch k -> no shared dictionary \"nosuch\"
shd get d  -> empty key
"



=== TEST 4: Go SDK: add, replace, incr, ttl and expire answer as Lua's do
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = ngx.load_ffi("ffi_go_test")
            local function say(cmd)
                local ok, res, msg = rt:call(cmd)
                ngx.say(cmd, " -> ", ok and res or msg)
            end
            d:set("k", "v")
            say("shd add d k 0 string again")
            say("shd add d k2 0 string first")
            say("shd replace d missing 0 string x")
            say("shd replace d k 0 string new")
            ngx.say("lua: ", d:get("k"), " ", d:get("k2"))
            say("shd incr d counter 1")
            say("shd incr d counter 5 10")
            say("shd incr d counter -2.5")
            ngx.say("lua incr: ", d:incr("counter", 1))
            say("shd incr d counter 1")
            say("shd incr d k 1")
            say("shd ttl d counter")
            say("shd ttl d missing")
            say("shd set d short 100 string soon gone")
            local ttl = d:ttl("short")
            ngx.say("lua ttl in (0, 0.1]: ", ttl > 0 and ttl <= 0.1)
            d:set("lua_short", "x", 0.1)
            local _, ms = rt:call("shd ttl d lua_short")
            ngx.say("runtime ttl in (0, 100]: ", tonumber(ms) > 0 and tonumber(ms) <= 100)
            say("shd expire d k 100")
            say("shd expire d missing 100")
            say("shd incr d fresh 1 0 100")
            ngx.sleep(0.25)
            ngx.say("after expiry: ", d:get("short"), " ", d:get("k"), " ", d:get("fresh"))
            say("shd get d lua_short")
        }
    }
--- request
GET /t
--- response_body
shd add d k 0 string again -> exists
shd add d k2 0 string first -> stored
shd replace d missing 0 string x -> not found
shd replace d k 0 string new -> stored
lua: new first
shd incr d counter 1 -> not found
shd incr d counter 5 10 -> 15
shd incr d counter -2.5 -> 12.5
lua incr: 13.5
shd incr d counter 1 -> 14.5
shd incr d k 1 -> not a number
shd ttl d counter -> never
shd ttl d missing -> not found
shd set d short 100 string soon gone -> stored
lua ttl in (0, 0.1]: true
runtime ttl in (0, 100]: true
shd expire d k 100 -> expired
shd expire d missing 100 -> not found
shd incr d fresh 1 0 100 -> 1
after expiry: nil nil nil
shd get d lua_short -> nil  flags=0



=== TEST 5: Python loader: values round-trip with Lua both ways
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = assert(ngx.load_ffi("resty_ffi_python", "$TEST_NGINX_PY_TESTS/pyt_shdict,init", { is_global = true }))
            local function say(cmd)
                local ok, res, msg = rt:call(cmd)
                ngx.say(cmd, " -> ", ok and res or msg)
            end
            d:set("s", "hello\0world", 0, 7)
            d:set("n", 3.25)
            d:set("b", true)
            d:set("f", false)
            for _, k in ipairs({ "s", "n", "b", "f", "absent" }) do
                ngx.say(k, ": ", select(2, rt:call("shd get d " .. k)))
            end
            say("shd set d rs 0 string bytes and more")
            say("shd set d rn 0 number -12.5")
            say("shd set d rb 0 boolean true")
            say("shd set d rf 0 boolean false")
            ngx.say("lua: ", d:get("rs"), " ", d:get("rn"), " ", d:get("rb"), " ", d:get("rf"))
            say("shd delete d rs")
            ngx.say("lua after delete: ", d:get("rs"))
            d:set("big", string.rep("x", 100000))
            local _, big = rt:call("shd get d big")
            ngx.say("big: ", big == "string " .. string.rep("x", 100000) .. " flags=0")
            say("shd get nosuch k")
            say("shd get d ")
        }
    }
--- request
GET /t
--- response_body eval
"s: string hello\0world flags=7
n: number 3.25 flags=0
b: boolean true flags=0
f: boolean false flags=0
absent: nil  flags=0
shd set d rs 0 string bytes and more -> stored
shd set d rn 0 number -12.5 -> stored
shd set d rb 0 boolean true -> stored
shd set d rf 0 boolean false -> stored
lua: bytes and more -12.5 true false
shd delete d rs -> deleted
lua after delete: nil
big: true
shd get nosuch k -> no shared dictionary \"nosuch\"
shd get d  -> empty key
"



=== TEST 6: Python loader: add, replace, incr, ttl and expire answer as Lua's do
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = assert(ngx.load_ffi("resty_ffi_python", "$TEST_NGINX_PY_TESTS/pyt_shdict,init", { is_global = true }))
            local function say(cmd)
                local ok, res, msg = rt:call(cmd)
                ngx.say(cmd, " -> ", ok and res or msg)
            end
            d:set("k", "v")
            say("shd add d k 0 string again")
            say("shd add d k2 0 string first")
            say("shd replace d missing 0 string x")
            say("shd replace d k 0 string new")
            ngx.say("lua: ", d:get("k"), " ", d:get("k2"))
            say("shd incr d counter 1")
            say("shd incr d counter 5 10")
            say("shd incr d counter -2.5")
            ngx.say("lua incr: ", d:incr("counter", 1))
            say("shd incr d counter 1")
            say("shd incr d k 1")
            say("shd ttl d counter")
            say("shd ttl d missing")
            say("shd set d short 100 string soon gone")
            local ttl = d:ttl("short")
            ngx.say("lua ttl in (0, 0.1]: ", ttl > 0 and ttl <= 0.1)
            d:set("lua_short", "x", 0.1)
            local _, ms = rt:call("shd ttl d lua_short")
            ngx.say("runtime ttl in (0, 100]: ", tonumber(ms) > 0 and tonumber(ms) <= 100)
            say("shd expire d k 100")
            say("shd expire d missing 100")
            say("shd incr d fresh 1 0 100")
            ngx.sleep(0.25)
            ngx.say("after expiry: ", d:get("short"), " ", d:get("k"), " ", d:get("fresh"))
            say("shd get d lua_short")
        }
    }
--- request
GET /t
--- response_body
shd add d k 0 string again -> exists
shd add d k2 0 string first -> stored
shd replace d missing 0 string x -> not found
shd replace d k 0 string new -> stored
lua: new first
shd incr d counter 1 -> not found
shd incr d counter 5 10 -> 15
shd incr d counter -2.5 -> 12.5
lua incr: 13.5
shd incr d counter 1 -> 14.5
shd incr d k 1 -> not a number
shd ttl d counter -> never
shd ttl d missing -> not found
shd set d short 100 string soon gone -> stored
lua ttl in (0, 0.1]: true
runtime ttl in (0, 100]: true
shd expire d k 100 -> expired
shd expire d missing 100 -> not found
shd incr d fresh 1 0 100 -> 1
after expiry: nil nil nil
shd get d lua_short -> nil  flags=0



=== TEST 7: Go example ratelimit: Go counts hits in a shared dict, Lua reads the counters
--- config
    location = /t {
        content_by_lua_block {
            local limits = ngx.shared.d
            local rt = assert(ngx.load_ffi("ffi_go_ratelimit", "d 3 0.2"))
            for i = 1, 4 do
                local ok, a, b = rt:hit("10.0.0.1")
                ngx.say("hit ", i, ": ", tostring(ok), " ", ok and a or (a .. " " .. b))
            end
            ngx.say("lua reads: ", limits:get("10.0.0.1"))
            local ttl = limits:ttl("10.0.0.1")
            ngx.say("window ttl in (0, 0.2]: ", ttl > 0 and ttl <= 0.2)
            ngx.sleep(0.3)
            ngx.say("after the window: ", limits:get("10.0.0.1"), " ", select(2, rt:hit("10.0.0.1")))
            ngx.say(select(2, rt:hit("reset 10.0.0.1")), " ", limits:get("10.0.0.1"))
            ngx.say(select(2, ngx.load_ffi("ffi_go_ratelimit", "nosuch 3 1")))
        }
    }
--- request
GET /t
--- response_body
hit 1: true 1/3
hit 2: true 2/3
hit 3: true 3/3
hit 4: false 429 limited: 4/3
lua reads: 4
window ttl in (0, 0.2]: true
after the window: nil 1/3
reset nil
libffi_init of libffi_go_ratelimit.so failed: rc=2: restyffi: runtime init failed: no shared dictionary "nosuch"
--- error_log eval
qr/\[error\] .*\[resty_ffi\] restyffi: runtime init failed: no shared dictionary "nosuch"/
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 8: Java API: values round-trip with Lua both ways
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = assert(ngx.load_ffi("ffi_java", "rtest.Shdict,init,"))
            local function say(cmd)
                local ok, res, msg = rt:call(cmd)
                ngx.say(cmd, " -> ", ok and res or msg)
            end
            d:set("s", "hello\0world", 0, 7)
            d:set("n", 3.25)
            d:set("b", true)
            d:set("f", false)
            for _, k in ipairs({ "s", "n", "b", "f", "absent" }) do
                ngx.say(k, ": ", select(2, rt:call("shd get d " .. k)))
            end
            say("shd set d rs 0 string bytes and more")
            say("shd set d rn 0 number -12.5")
            say("shd set d rb 0 boolean true")
            say("shd set d rf 0 boolean false")
            ngx.say("lua: ", d:get("rs"), " ", d:get("rn"), " ", d:get("rb"), " ", d:get("rf"))
            say("shd delete d rs")
            ngx.say("lua after delete: ", d:get("rs"))
            d:set("big", string.rep("x", 100000))
            local _, big = rt:call("shd get d big")
            ngx.say("big: ", big == "string " .. string.rep("x", 100000) .. " flags=0")
            say("shd get nosuch k")
            say("shd get d ")
        }
    }
--- request
GET /t
--- response_body eval
"s: string hello\0world flags=7
n: number 3.25 flags=0
b: boolean true flags=0
f: boolean false flags=0
absent: nil  flags=0
shd set d rs 0 string bytes and more -> stored
shd set d rn 0 number -12.5 -> stored
shd set d rb 0 boolean true -> stored
shd set d rf 0 boolean false -> stored
lua: bytes and more -12.5 true false
shd delete d rs -> deleted
lua after delete: nil
big: true
shd get nosuch k -> no shared dictionary \"nosuch\"
shd get d  -> empty key
"



=== TEST 9: Java API: add, replace, incr, ttl and expire answer as Lua's do
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = assert(ngx.load_ffi("ffi_java", "rtest.Shdict,init,"))
            local function say(cmd)
                local ok, res, msg = rt:call(cmd)
                ngx.say(cmd, " -> ", ok and res or msg)
            end
            d:set("k", "v")
            say("shd add d k 0 string again")
            say("shd add d k2 0 string first")
            say("shd replace d missing 0 string x")
            say("shd replace d k 0 string new")
            ngx.say("lua: ", d:get("k"), " ", d:get("k2"))
            say("shd incr d counter 1")
            say("shd incr d counter 5 10")
            say("shd incr d counter -2.5")
            ngx.say("lua incr: ", d:incr("counter", 1))
            say("shd incr d counter 1")
            say("shd incr d k 1")
            say("shd ttl d counter")
            say("shd ttl d missing")
            say("shd set d short 100 string soon gone")
            local ttl = d:ttl("short")
            ngx.say("lua ttl in (0, 0.1]: ", ttl > 0 and ttl <= 0.1)
            d:set("lua_short", "x", 0.1)
            local _, ms = rt:call("shd ttl d lua_short")
            ngx.say("runtime ttl in (0, 100]: ", tonumber(ms) > 0 and tonumber(ms) <= 100)
            say("shd expire d k 100")
            say("shd expire d missing 100")
            say("shd incr d fresh 1 0 100")
            ngx.sleep(0.25)
            ngx.say("after expiry: ", d:get("short"), " ", d:get("k"), " ", d:get("fresh"))
            say("shd get d lua_short")
        }
    }
--- request
GET /t
--- response_body
shd add d k 0 string again -> exists
shd add d k2 0 string first -> stored
shd replace d missing 0 string x -> not found
shd replace d k 0 string new -> stored
lua: new first
shd incr d counter 1 -> not found
shd incr d counter 5 10 -> 15
shd incr d counter -2.5 -> 12.5
lua incr: 13.5
shd incr d counter 1 -> 14.5
shd incr d k 1 -> not a number
shd ttl d counter -> never
shd ttl d missing -> not found
shd set d short 100 string soon gone -> stored
lua ttl in (0, 0.1]: true
runtime ttl in (0, 100]: true
shd expire d k 100 -> expired
shd expire d missing 100 -> not found
shd incr d fresh 1 0 100 -> 1
after expiry: nil nil nil
shd get d lua_short -> nil  flags=0



=== TEST 10: Node.js: values round-trip with Lua both ways
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = assert(ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/shdict.js,init"))
            local function say(cmd)
                local ok, res, msg = rt:call(cmd)
                ngx.say(cmd, " -> ", ok and res or msg)
            end
            d:set("s", "hello\0world", 0, 7)
            d:set("n", 3.25)
            d:set("b", true)
            d:set("f", false)
            for _, k in ipairs({ "s", "n", "b", "f", "absent" }) do
                ngx.say(k, ": ", select(2, rt:call("shd get d " .. k)))
            end
            say("shd set d rs 0 string bytes and more")
            say("shd set d rn 0 number -12.5")
            say("shd set d rb 0 boolean true")
            say("shd set d rf 0 boolean false")
            ngx.say("lua: ", d:get("rs"), " ", d:get("rn"), " ", d:get("rb"), " ", d:get("rf"))
            say("shd delete d rs")
            ngx.say("lua after delete: ", d:get("rs"))
            d:set("big", string.rep("x", 100000))
            local _, big = rt:call("shd get d big")
            ngx.say("big: ", big == "string " .. string.rep("x", 100000) .. " flags=0")
            say("shd get nosuch k")
            say("shd get d ")
        }
    }
--- request
GET /t
--- response_body eval
"s: string hello\0world flags=7
n: number 3.25 flags=0
b: boolean true flags=0
f: boolean false flags=0
absent: nil  flags=0
shd set d rs 0 string bytes and more -> stored
shd set d rn 0 number -12.5 -> stored
shd set d rb 0 boolean true -> stored
shd set d rf 0 boolean false -> stored
lua: bytes and more -12.5 true false
shd delete d rs -> deleted
lua after delete: nil
big: true
shd get nosuch k -> no shared dictionary \"nosuch\"
shd get d  -> empty key
"



=== TEST 11: Node.js: add, replace, incr, ttl and expire answer as Lua's do
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local rt = assert(ngx.load_ffi("ffi_nodejs", "$TEST_NGINX_NODE_TESTS/shdict.js,init"))
            local function say(cmd)
                local ok, res, msg = rt:call(cmd)
                ngx.say(cmd, " -> ", ok and res or msg)
            end
            d:set("k", "v")
            say("shd add d k 0 string again")
            say("shd add d k2 0 string first")
            say("shd replace d missing 0 string x")
            say("shd replace d k 0 string new")
            ngx.say("lua: ", d:get("k"), " ", d:get("k2"))
            say("shd incr d counter 1")
            say("shd incr d counter 5 10")
            say("shd incr d counter -2.5")
            ngx.say("lua incr: ", d:incr("counter", 1))
            say("shd incr d counter 1")
            say("shd incr d k 1")
            say("shd ttl d counter")
            say("shd ttl d missing")
            say("shd set d short 100 string soon gone")
            local ttl = d:ttl("short")
            ngx.say("lua ttl in (0, 0.1]: ", ttl > 0 and ttl <= 0.1)
            d:set("lua_short", "x", 0.1)
            local _, ms = rt:call("shd ttl d lua_short")
            ngx.say("runtime ttl in (0, 100]: ", tonumber(ms) > 0 and tonumber(ms) <= 100)
            say("shd expire d k 100")
            say("shd expire d missing 100")
            say("shd incr d fresh 1 0 100")
            ngx.sleep(0.25)
            ngx.say("after expiry: ", d:get("short"), " ", d:get("k"), " ", d:get("fresh"))
            say("shd get d lua_short")
        }
    }
--- request
GET /t
--- response_body
shd add d k 0 string again -> exists
shd add d k2 0 string first -> stored
shd replace d missing 0 string x -> not found
shd replace d k 0 string new -> stored
lua: new first
shd incr d counter 1 -> not found
shd incr d counter 5 10 -> 15
shd incr d counter -2.5 -> 12.5
lua incr: 13.5
shd incr d counter 1 -> 14.5
shd incr d k 1 -> not a number
shd ttl d counter -> never
shd ttl d missing -> not found
shd set d short 100 string soon gone -> stored
lua ttl in (0, 0.1]: true
runtime ttl in (0, 100]: true
shd expire d k 100 -> expired
shd expire d missing 100 -> not found
shd incr d fresh 1 0 100 -> 1
after expiry: nil nil nil
shd get d lua_short -> nil  flags=0
