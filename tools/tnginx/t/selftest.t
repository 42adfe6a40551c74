# Self test for tools/tnginx (also valid for the real Test::Nginx + prove).
# Needs the ndk + lua modules:
#   TEST_NGINX_LOAD_MODULES="/usr/lib/nginx/modules/ndk_http_module.so /usr/lib/nginx/modules/ngx_http_lua_module.so" \
#       python3 tools/tnginx/tnginx.py tools/tnginx/t/
use Test::Nginx::Socket::Lua 'no_plan';

repeat_each(2);
no_shuffle();
no_long_string();

$ENV{TEST_NGINX_SELFTEST_GREETING} ||= 'hello-from-env';

run_tests();

__DATA__

=== TEST 1: plain nginx return
--- config
    location = /t {
        return 200 "hi\n";
    }
--- request
GET /t
--- response_body
hi
--- response_headers
Content-Type: text/plain
!X-Not-There
--- no_error_log
[error]



=== TEST 2: lua content, request eval array (chunked responses)
--- config
    location = /a {
        content_by_lua_block { ngx.say("A") }
    }
    location = /b {
        content_by_lua_block { ngx.status = 201 ngx.say("B", "\t", 2) }
    }
--- request eval
["GET /a", "GET /b"]
--- response_body eval
["A\n", "B\t2\n"]
--- error_code eval
[200, 201]
--- no_error_log
[error]



=== TEST 3: error_log / no_error_log, incl. eval with qr//
--- config
    location = /t {
        content_by_lua_block {
            ngx.log(ngx.ERR, "selftest marker: ", 42)
            ngx.say("logged")
        }
    }
--- request
GET /t
--- response_body
logged
--- error_log
selftest marker: 42
--- no_error_log eval
[qr/selftest marker: \d{3}/, "[alert]"]



=== TEST 4: abort + timeout (client gives up, not a failure)
--- config
    location = /t {
        content_by_lua_block {
            ngx.sleep(0.5)
            ngx.say("too late")
        }
    }
--- request
GET /t
--- timeout: 0.15
--- abort
--- ignore_response



=== TEST 5: response_body_like + error_code
--- config
    location = /t {
        content_by_lua_block { ngx.say("version: ", ngx.config.ngx_lua_version) }
    }
--- request
GET /t
--- response_body_like: ^version: \d+$
--- error_code: 200



=== TEST 6: 404 from the default root location
--- config
    location = /t {
        return 200;
    }
--- request
GET /does-not-exist.html
--- error_code: 404
--- response_body_like: 404 Not Found



=== TEST 7: more_headers, response_headers
--- config
    location = /t {
        content_by_lua_block {
            ngx.header["X-Echo"] = ngx.var.http_x_foo
            ngx.say(ngx.var.http_host, " ", ngx.var.http_connection)
        }
    }
--- request
GET /t
--- more_headers
X-Foo: bar baz
--- response_headers
X-Echo: bar baz
--- response_body
localhost close



=== TEST 8: POST body (trimmed, Content-Length added) and $TEST_NGINX_ var in config
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say("[", ngx.req.get_body_data(), "] ", ngx.var.http_content_length,
                    " $TEST_NGINX_SELFTEST_GREETING")
        }
    }
--- request
POST /t
hello world
--- response_body
[hello world] 11 hello-from-env



=== TEST 9: grep_error_log
--- config
    location = /t {
        content_by_lua_block {
            for i = 1, 3 do ngx.log(ngx.WARN, "tick ", i) end
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- grep_error_log eval: qr/tick \d/
--- grep_error_log_out
tick 1
tick 2
tick 3



=== TEST 10: pipelined_requests, response_body eval with . and x
--- config
    location = /t {
        content_by_lua_block { ngx.say(string.rep("ab", 3), ngx.var.arg_n) }
    }
--- pipelined_requests eval
["GET /t?n=1", "GET /t?n=2"]
--- response_body eval
["ab" x 3 . "1\n", "ab" x 3 . "2\n"]
--- error_code eval
[200, 200]
