# t::TnginxSelf: a defaults module for tools/tnginx/t/defaults-module.t, the same kind as the
# project's t/TestFFI.pm (README.md, "Defaults modules"): the runner reads the region between
# the tnginx-defaults lines, Perl runs the preprocessor below, and both give a block that lacks
# a section of @Sections the file's `our` variable of that name, else the module's.
package t::TnginxSelf;

use Test::Nginx::Socket::Lua -Base;

# tnginx-defaults: begin
our @Sections = qw(http_config config no_error_log);

our $HttpConfig = <<'_EOC_';
    init_by_lua_block { package.loaded.http_config_from = "the module" }
_EOC_

our $Config = <<'_EOC_';
    location = /t {
        content_by_lua_block {
            ngx.say("config from the module, http_config from ",
                    package.loaded.http_config_from)
        }
    }
_EOC_

our $NoErrorLog = <<'_EOC_';
[error]
[alert]
_EOC_
# tnginx-defaults: end

add_block_preprocessor(sub {
    my $block = shift;
    no strict 'refs';
    for my $section (@Sections) {
        next if defined $block->$section;
        (my $name = $section) =~ s/(?:^|_)([a-z])/\U$1/g;
        my $value = ${"main::$name"};
        $value = ${"t::TnginxSelf::$name"} unless defined $value;
        $block->set_value($section, $value) if defined $value;
    }
});

1;
