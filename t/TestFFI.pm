# t::TestFFI: what every t/*.t file shares, as lua-resty-core's t::TestCore does. A file
# starts with
#
#     use lib '.';                 # prove runs from the repository's root
#     use t::TestFFI 'no_plan';    # Test::Nginx::Socket::Lua, plus the defaults below
#
# For each section named in @Sections that a block does not have, the block gets
#   1. the file's own default, when the file sets the `our` variable named after the section
#      (http_config: `our $HttpConfig`, main_config: `our $MainConfig`, no_error_log:
#      `our $NoErrorLog`), for the files whose blocks all need something else;
#   2. else this module's default below, when it has one.
# A block that has the section keeps it as written (`--- no_error_log` for a block that logs
# [error] on purpose, its own `--- http_config`, ...). Values are set as written, unfiltered.
#
# The load_module lines are not here: Test::Nginx writes them from TEST_NGINX_LOAD_MODULES,
# which ci/test.sh (Debian's nginx, three modules) and ci/test-extra.d/60-static-lua.sh (the
# static build, one module) set for their nginx.
#
# The defaults are written once, between the `tnginx-defaults` lines. The project's Python
# runner (tools/tnginx, which cannot run Perl) reads that region and applies the same two
# rules, so keep it to comments, `our @Sections = qw(...);` and `our $Name = <<'_EOC_';`
# heredocs (single-quoted: $TEST_NGINX_* variables are expanded by Test::Nginx when it
# writes nginx.conf). tools/tnginx/README.md, "Defaults modules", has the contract.
package t::TestFFI;

use Test::Nginx::Socket::Lua -Base;

# tnginx-defaults: begin
our @Sections = qw(main_config http_config no_error_log);

our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
    init_worker_by_lua_block { require "resty_ffi" }
_EOC_

our $NoErrorLog = <<'_EOC_';
[error]
[alert]
[crit]
[emerg]
_EOC_
# tnginx-defaults: end

add_block_preprocessor(sub {
    my $block = shift;
    no strict 'refs';
    for my $section (@Sections) {
        next if defined $block->$section;
        # http_config -> HttpConfig
        (my $name = $section) =~ s/(?:^|_)([a-z])/\U$1/g;
        my $value = ${"main::$name"};
        $value = ${"t::TestFFI::$name"} unless defined $value;
        $block->set_value($section, $value) if defined $value;
    }
});

1;
