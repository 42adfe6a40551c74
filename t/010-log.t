# vim:set ft= ts=4 sw=4 et fdm=marker:
# Runtime log lines in error.log: every level, error_log filtering, floods, log rotation.

use lib '.';
use t::TestFFI 'no_plan';

no_long_string();
run_tests();

__DATA__

=== TEST 1: each level reaches error.log at its nginx level
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"pool"}')
            for _, level in ipairs({ "error", "warn", "info", "debug" }) do
                rt:call("log " .. level .. " a " .. level .. " line")
            end
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log eval
[
qr/\[error\] .*\[resty_ffi\] ffi_sdk_test: a error line/,
qr/\[warn\] .*\[resty_ffi\] ffi_sdk_test: a warn line/,
qr/\[info\] .*\[resty_ffi\] ffi_sdk_test: a info line/,
qr/\[debug\] .*\[resty_ffi\] ffi_sdk_test: a debug line/,
]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 2: the error_log level filters runtime lines
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"pool"}')
            for _, level in ipairs({ "error", "warn", "info", "debug" }) do
                rt:call("log " .. level .. " filtered " .. level)
            end
            ngx.say("ok")
        }
    }
--- log_level: warn
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log
filtered error
filtered warn
--- no_error_log
filtered info
filtered debug
[alert]
[crit]
[emerg]



=== TEST 3: a flood of log lines is bounded: the excess is dropped and counted
--- config
    location = /t {
        content_by_lua_block {
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"pool"}')
            ngx.say(select(2, rt:call("flood 20000")))
            ngx.say(select(2, rt:call("echo still serving")))
        }
    }
--- request
GET /t
--- response_body
flooded
still serving
--- wait: 0.1
--- error_log eval
qr/\[warn\] .*\[resty_ffi\] dropped \d+ runtime log message\(s\): more than 4096 were waiting/
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 4: after log rotation and a reopen signal, runtime lines go to the new file
--- config
    location = /t {
        content_by_lua_block {
            local prefix = ngx.config.prefix()
            local rt = ngx.load_ffi("ffi_sdk_test", '{"mode":"pool"}')
            rt:call("log warn before rotation")
            ngx.sleep(0.05)
            assert(os.rename(prefix .. "logs/error.log", prefix .. "logs/error.log.1"))
            local f = assert(io.open(prefix .. "logs/nginx.pid"))
            local pid = f:read("*l")
            f:close()
            os.execute("kill -USR1 " .. pid)       -- what `nginx -s reopen` sends
            ngx.sleep(0.2)
            rt:call("log warn after rotation")
            ngx.sleep(0.05)
            local function has(file, text)
                local fh = io.open(prefix .. "logs/" .. file)
                if not fh then return "missing" end
                local all = fh:read("*a")
                fh:close()
                return all:find(text, 1, true) ~= nil
            end
            ngx.say("old file, before: ", has("error.log.1", "before rotation"))
            ngx.say("old file, after: ", has("error.log.1", "after rotation"))
            ngx.say("new file, after: ", has("error.log", "after rotation"))
        }
    }
--- request
GET /t
--- response_body
old file, before: true
old file, after: false
new file, after: true
--- no_error_log
[alert]
[crit]
[emerg]
