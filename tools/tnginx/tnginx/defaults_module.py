"""Defaults modules: a subclass of Test::Nginx::Socket(::Lua) such as t/TestFFI.pm, used by
.t files as `use t::TestFFI;`, whose add_block_preprocessor gives every block the sections it
lacks. tnginx cannot run Perl, so it reads what such a module declares between its lines
`# tnginx-defaults: begin` and `# tnginx-defaults: end` and applies the rules the module
promises to follow (README.md, "Defaults modules"):

    our @Sections = qw(main_config http_config no_error_log);
    our $HttpConfig = <<'_EOC_';       (a section's default; http_config -> $HttpConfig)
    ...
    _EOC_

For each block and each section in @Sections that the block does not have: the value of the
.t file's `our` variable of that name when the file set one, else the module's, else nothing.
The values are used as written (no Test::Base filters), as $block->set_value does.
"""

import os
import re

from .blocks import SUPPORTED_SECTIONS

BEGIN_LINE = re.compile(r'^[ \t]*#[ \t]*tnginx-defaults:[ \t]*begin[ \t]*\n', re.M)
END_LINE = re.compile(r'^[ \t]*#[ \t]*tnginx-defaults:[ \t]*end[ \t]*$', re.M)
BLANK_OR_COMMENT = re.compile(r'[ \t]*(?:#[^\n]*)?\n')
SECTIONS = re.compile(r'[ \t]*our[ \t]+@Sections[ \t]*=[ \t]*qw[ \t]*\(([^)]*)\)[ \t]*;[ \t]*\n')
HEREDOC = re.compile(r"[ \t]*our[ \t]+\$([A-Za-z]\w*)[ \t]*=[ \t]*<<[ \t]*'(\w+)'[ \t]*;[ \t]*\n"
                     r"(.*?)^\2\n", re.M | re.S)
SUBCLASS = re.compile(r'^[ \t]*use[ \t]+(Test::Nginx::Socket(?:::Lua)?)[ \t]+-[Bb]ase[ \t]*;',
                      re.M)


def variable_of(section):
    """The `our` variable that holds a section's default: http_config -> HttpConfig (the
    substitution t/TestFFI.pm writes as s/(?:^|_)([a-z])/\\U$1/g)."""
    return re.sub(r'(?:^|_)([a-z])', lambda m: m.group(1).upper(), section)


def find_module(name, inc_dirs):
    """Where Perl's `use NAME` finds the module: NAME with :: as / and .pm, in @INC order."""
    rel = name.replace('::', '/') + '.pm'
    for d in inc_dirs:
        path = os.path.join(d, rel)
        if os.path.isfile(path):
            return path
    return None


class DefaultsModule(object):
    def __init__(self, name, path):
        self.name = name
        self.path = path
        self.sections = []     # in @Sections order
        self.values = {}       # variable name -> default text
        self.lua = False       # a subclass of Test::Nginx::Socket::Lua
        self.warnings = []

    def apply(self, block, file_vars):
        """Gives the block the sections it lacks; returns their names."""
        added = []
        for section in self.sections:
            if section in block.values:
                continue
            var = variable_of(section)
            value = file_vars.get(var)
            if value is None:
                value = self.values.get(var)
            if value is None:
                continue
            block.values[section] = value
            block.raw[section] = ('', value)
            block.order.append(section)
            added.append(section)
        return added


def load(name, inc_dirs):
    """The module `use NAME` means, read from its file. Returns (module or None, fatal
    reasons): a module that is not a Test::Nginx::Socket subclass gives (None, [])."""
    path = find_module(name, inc_dirs)
    if path is None:
        return None, ["Can't locate %s.pm in @INC (@INC: %s; a .t file in t/ says "
                      "`use lib '.';` and runs from the repository's root)"
                      % (name.replace('::', '/'), ' '.join(inc_dirs) or 'empty')]
    with open(path, 'rb') as f:
        code = f.read().decode('utf-8', 'replace')
    code = re.split(r'^__(?:END|DATA)__\b', code, maxsplit=1, flags=re.M)[0]
    sub = SUBCLASS.search(code)
    if not sub:
        return None, []
    mod = DefaultsModule(name, path)
    mod.lua = sub.group(1) == 'Test::Nginx::Socket::Lua'
    begin = BEGIN_LINE.search(code)
    end = END_LINE.search(code, begin.end()) if begin else None
    if not begin or not end:
        return None, ['%s (%s) is a subclass of %s, but has no region between '
                      '`# tnginx-defaults: begin` and `# tnginx-defaults: end` lines: tnginx '
                      'cannot run its Perl, so it cannot honour what it does to blocks'
                      % (name, path, sub.group(1))]
    fatal = _read_region(code[begin.end():end.start()], mod,
                         code.count('\n', 0, begin.end()) + 1)
    if not fatal and not mod.sections:
        fatal.append('no `our @Sections = qw(...);` in the tnginx-defaults region')
    for section in mod.sections:
        if section not in SUPPORTED_SECTIONS:
            fatal.append('@Sections names "%s", a section tnginx does not support' % section)
    _check_outside(code[:begin.start()] + code[end.end():], mod)
    return mod, ['%s: %s' % (path, f) for f in fatal]


def _read_region(region, mod, first_line):
    pos = 0
    while pos < len(region):
        line = first_line + region.count('\n', 0, pos)
        m = BLANK_OR_COMMENT.match(region, pos)
        if m:
            pos = m.end()
            continue
        m = SECTIONS.match(region, pos)
        if m:
            mod.sections = m.group(1).split()
            pos = m.end()
            continue
        m = HEREDOC.match(region, pos)
        if m:
            mod.values[m.group(1)] = m.group(3)
            pos = m.end()
            continue
        text = region[pos:].split('\n', 1)[0]
        return ["line %d, in the tnginx-defaults region, is not a comment, `our @Sections = "
                "qw(...);` or `our $Name = <<'TAG';` heredoc: %s" % (line, text.strip()[:100])]
    return []


def _check_outside(code, mod):
    """Statements outside the region that tnginx knows to be harmless; a WARNING for others
    (the module does something tnginx does not)."""
    from .preamble import split_statements, strip_pod  # preamble imports this module
    for st in split_statements(strip_pod(code)):
        one = ' '.join(st.split())
        if re.match(r'(package|use|no)\s', one) or one == '1' or \
                one.startswith('add_block_preprocessor'):
            continue
        mod.warnings.append('%s: statement outside the tnginx-defaults region, not run by '
                            'tnginx: %s' % (mod.path, one[:100]))
