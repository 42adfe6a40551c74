"""Defaults modules (tnginx/defaults_module.py) and the preamble statements that use them:
the contract's rules, and each way a module is refused."""

import os
import shutil
import tempfile
import unittest

from tnginx import defaults_module
from tnginx.blocks import parse_blocks
from tnginx.perl import PerlCtx
from tnginx.preamble import FileConf, parse_preamble

GOOD = """package t::Good;

use Test::Nginx::Socket::Lua -Base;

# tnginx-defaults: begin
our @Sections = qw(main_config http_config no_error_log);

# a comment
our $HttpConfig = <<'_EOC_';
    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";
_EOC_

our $NoErrorLog = <<'_EOC_';
[error]
[alert]
_EOC_
# tnginx-defaults: end

add_block_preprocessor(sub {
    my $block = shift;
    for my $section (@Sections) { next if defined $block->$section; }
});

1;
"""

BLOCKS = """
=== TEST 1: nothing of its own
--- config
--- request
GET /t

=== TEST 2: its own http_config, an empty no_error_log
--- http_config
    server_tokens off;
--- no_error_log
--- request
GET /t
"""


class ModuleDir(object):
    """A directory holding t/<Name>.pm files."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='tnginx-unit-')
        os.mkdir(os.path.join(self.dir, 't'))

    def write(self, name, text):
        with open(os.path.join(self.dir, 't', name + '.pm'), 'w') as f:
            f.write(text)

    def remove(self):
        shutil.rmtree(self.dir)


class DefaultsModuleTest(unittest.TestCase):
    def setUp(self):
        self.mods = ModuleDir()
        self.mods.write('Good', GOOD)

    def tearDown(self):
        self.mods.remove()

    def load(self, name):
        return defaults_module.load('t::' + name, [self.mods.dir])

    def test_variable_names(self):
        self.assertEqual(defaults_module.variable_of('http_config'), 'HttpConfig')
        self.assertEqual(defaults_module.variable_of('no_error_log'), 'NoErrorLog')
        self.assertEqual(defaults_module.variable_of('config'), 'Config')

    def test_reads_the_region(self):
        mod, fatal = self.load('Good')
        self.assertEqual(fatal, [])
        self.assertTrue(mod.lua)
        self.assertEqual(mod.sections, ['main_config', 'http_config', 'no_error_log'])
        self.assertEqual(mod.values, {
            'HttpConfig': '    lua_package_path "$TEST_NGINX_LUA_DIR/?.lua;;";\n',
            'NoErrorLog': '[error]\n[alert]\n',
        })
        self.assertEqual(mod.warnings, [])

    def test_rules(self):
        mod, _ = self.load('Good')
        blocks = parse_blocks(BLOCKS, PerlCtx())
        file_vars = {'MainConfig': 'env FOO;\n'}
        self.assertEqual(mod.apply(blocks[0], file_vars),
                         ['main_config', 'http_config', 'no_error_log'])
        self.assertEqual(blocks[0].values['main_config'], 'env FOO;\n')      # the file's
        self.assertEqual(blocks[0].values['no_error_log'], '[error]\n[alert]\n')  # the module's
        self.assertEqual(mod.apply(blocks[1], {}), [])   # no main_config anywhere
        self.assertEqual(blocks[1].values['http_config'], '    server_tokens off;\n')
        self.assertEqual(blocks[1].values['no_error_log'], '')   # present, even empty: kept

    def test_refusals(self):
        self.mods.write('NoRegion', 'package t::NoRegion;\nuse Test::Nginx::Socket -Base;\n1;\n')
        self.mods.write('BadLine', GOOD.replace('# a comment\n', 'our $Config = "x";\n'))
        self.mods.write('BadSection', GOOD.replace('qw(main_config', 'qw(no_such_section'))
        self.mods.write('NoSections', GOOD.replace(
            'our @Sections = qw(main_config http_config no_error_log);\n', ''))
        for name, reason in (('NoRegion', 'has no region'),
                             ('BadLine', 'line 8, in the tnginx-defaults region'),
                             ('BadSection', '"no_such_section", a section tnginx does not'),
                             ('NoSections', 'no `our @Sections'),
                             ('Missing', "Can't locate t/Missing.pm in @INC")):
            mod, fatal = self.load(name)
            self.assertEqual(len(fatal), 1, name)
            self.assertIn(reason, fatal[0], name)

    def test_other_code_is_named(self):
        self.mods.write('Extra', GOOD.replace('1;\n', '$ENV{FOO} ||= 1;\n1;\n'))
        mod, fatal = self.load('Extra')
        self.assertEqual(fatal, [])
        self.assertEqual(len(mod.warnings), 1)
        self.assertIn('not run by tnginx: $ENV{FOO} ||= 1', mod.warnings[0])

    def test_not_a_test_nginx_subclass(self):
        self.mods.write('Plain', 'package t::Plain;\nuse strict;\n1;\n')
        self.assertEqual(self.load('Plain'), (None, []))


class PreambleTest(unittest.TestCase):
    def setUp(self):
        self.mods = ModuleDir()
        self.mods.write('Good', GOOD)
        self.saved = os.environ.pop('PERL5LIB', None)

    def tearDown(self):
        self.mods.remove()
        if self.saved is not None:
            os.environ['PERL5LIB'] = self.saved

    def preamble(self, code):
        fc, ctx = FileConf(), PerlCtx()
        parse_preamble(code, fc, ctx, '/nonexistent', 1984)
        return fc, ctx

    def test_use_lib_then_module(self):
        fc, ctx = self.preamble("use lib '%s';\nuse t::Good 'no_plan';\n"
                                "our $MainConfig = <<'_EOC_';\nenv X;\n_EOC_\n" % self.mods.dir)
        self.assertEqual((fc.fatal, fc.warnings), ([], []))
        self.assertEqual([m.name for m in fc.defaults_modules], ['t::Good'])
        self.assertTrue(fc.lua_module)
        self.assertEqual(ctx.our['MainConfig'], 'env X;\n')

    def test_perl5lib(self):
        os.environ['PERL5LIB'] = self.mods.dir
        fc, _ = self.preamble("use t::Good;\n")
        self.assertEqual(fc.fatal, [])
        self.assertEqual(len(fc.defaults_modules), 1)

    def test_not_found_without_use_lib(self):
        fc, _ = self.preamble("use t::Good;\n")
        self.assertEqual(len(fc.fatal), 1)
        self.assertIn("Can't locate t/Good.pm", fc.fatal[0])

    def test_add_block_preprocessor_in_a_file(self):
        fc, _ = self.preamble("use Test::Nginx::Socket::Lua;\n"
                              "add_block_preprocessor(sub { my $block = shift; });\n")
        self.assertEqual(len(fc.fatal), 1)
        self.assertIn('add_block_preprocessor in the .t file', fc.fatal[0])


if __name__ == '__main__':
    unittest.main()
