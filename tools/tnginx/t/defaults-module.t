# Self test for tools/tnginx: a defaults module (t::TnginxSelf, tools/tnginx/t/TnginxSelf.pm),
# the mechanism of the project's t/TestFFI.pm. Also valid for the real Test::Nginx + prove;
# run from the repository's root (the `use lib` is relative to it).
use lib 'tools/tnginx';
use t::TnginxSelf 'no_plan';

no_shuffle();
no_long_string();

# This file's http_config, instead of the module's.
our $HttpConfig = <<'_EOC_';
    init_by_lua_block { package.loaded.http_config_from = "the file" }
_EOC_

run_tests();

__DATA__

=== TEST 1: a block with none of the sections: the module's config, the file's http_config
--- request
GET /t
--- response_body
config from the module, http_config from the file



=== TEST 2: a block's own sections win (its no_error_log instead of the module's [error])
--- http_config
    init_by_lua_block { package.loaded.http_config_from = "the block" }
--- config
    location = /t {
        content_by_lua_block {
            ngx.log(ngx.ERR, "an error on purpose")
            ngx.say("own config, http_config from ", package.loaded.http_config_from)
        }
    }
--- request
GET /t
--- response_body
own config, http_config from the block
--- error_log
an error on purpose
--- no_error_log
[alert]
[crit]



=== TEST 3: a block with its own config only: the other sections from the file and the module
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("http_config from ", package.loaded.http_config_from)
        }
    }
--- request
GET /t
--- response_body
http_config from the file
