#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""tnginx.py - a small, honest runner for Test::Nginx `.t` files.

The real Test::Nginx (openresty/test-nginx, Perl) cannot be installed on our
CI machines, so this script runs the same `.t` files with the Python 3
standard library only.  It mimics Test::Nginx::Socket(::Lua) behaviour for a
documented subset of the format and *fails* a block (with a clear reason)
whenever the block uses something outside that subset.  It never silently
passes a check it does not understand.

Usage:
    python3 ci/tnginx.py [-v] t/001-foo.t t/002-bar.t ...
    python3 ci/tnginx.py [-v] t/            # every *.t in the directory, sorted

Environment (same meaning as in Test::Nginx):
    TEST_NGINX_BINARY         nginx binary (default: `nginx` on PATH, else /usr/sbin/nginx)
    TEST_NGINX_LOAD_MODULES   space separated .so paths -> `load_module` lines (in order)
    TEST_NGINX_SERVER_PORT    listen port (default 1984; TEST_NGINX_PORT is an alias)
    TEST_NGINX_CLIENT_PORT    port the client connects to (default: server port)
    TEST_NGINX_SERVROOT       server root (default: t/servroot relative to cwd)
    TEST_NGINX_LOG_LEVEL      default error_log level (default: debug)
    TEST_NGINX_MASTER_PROCESS default master_process (default: off)
    TEST_NGINX_TIMEOUT        default client timeout in seconds (default: 3)
    TEST_NGINX_SLEEP          base sleep (default 0.015; error.log is read 3x this after a request)
    TEST_NGINX_WORKER_USER    `user` directive (default: `user root;` when running as root)
    TEST_NGINX_EVENT_TYPE     `use <type>;` in the events block
    TEST_NGINX_INIT_BY_LUA    injected into init_by_lua(_block) like Test::Nginx::Socket::Lua
    TEST_NGINX_CHECK_ACCUM_ERR_LOG  error_log checks see the whole error.log
    TEST_NGINX_FORCE_RESTART_ON_TEST=0  keep nginx running when `--- config` is unchanged
    TEST_NGINX_FAST_SHUTDOWN  stop nginx with SIGTERM instead of SIGQUIT
    TEST_NGINX_LD_PRELOAD     prepended to LD_PRELOAD for nginx
    TEST_NGINX_NO_CLEAN       leave the last nginx running after a normal exit
    TEST_NGINX_USE_VALGRIND   run nginx under valgrind (see "Valgrind mode" below)
    TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR  add --exit-on-first-error=yes --error-exitcode=1
    TEST_NGINX_*              any other one is substituted for $TEST_NGINX_NAME in
                              config sections (main_config, http_config, config,
                              post_main_config), pipelined_requests,
                              response_body and grep_error_log_out - exactly where
                              Test::Nginx expands them.  (Test::Nginx does NOT expand
                              them in `--- request`; neither do we - we warn instead.)

Output: one line per block, `ok N - FILE TEST k: name` / `not ok N - ...`,
followed by indented reasons (and the tail of the block's part of error.log on
failure).  The last line is always `N passed, N failed` (plus `, N skipped`).
Exit status is 0 iff nothing failed and at least one block ran.

Supported sections (anything else fails the block with "unsupported section"):
    config http_config main_config post_main_config server_name
    request (string, or `eval` array of strings) pipelined_requests (eval array)
    more_headers shutdown abort timeout wait ignore_response log_level
    error_code error_code_like
    response_body response_body_like response_body_unlike
    response_headers response_headers_like
    raw_response_headers_like raw_response_headers_unlike
    error_log no_error_log grep_error_log grep_error_log_out
    shutdown_error_log no_shutdown_error_log access_log no_access_log
    skip_nginx no_check_leak suppress_stderr no_http2 no_http3 no_mockeagain
    ONLY SKIP LAST
Section filters (Test::Base): norm and trim (always, as in Test::Base), eval,
chomp, chop, unchomp, -trim, -norm.

Supported `eval` Perl: string literals ("..." with escapes, '...', q//, qq//),
qr//imsx regexes, numbers, [ ... ] arrays, ( ... ) lists, qw(), the `.`, `x`,
`+ - * / %` operators, list repetition `(LIST) x N`, $ENV{NAME}, `$::var`
variables assigned in the preamble, undef, and chr/join/lc/uc/length/cwd.
Anything else -> the block fails with "unsupported Perl syntax".

Valgrind mode (TEST_NGINX_USE_VALGRIND, as in Test::Nginx::Util):
    nginx runs in the foreground (`daemon off;`, master_process as configured,
    default off) as `valgrind --num-callers=100 -q --tool=memcheck
    --leak-check=full --keep-debuginfo=yes --show-possibly-lost=no
    --gen-suppressions=all [--suppressions=valgrind.suppress] nginx ...` when
    the variable is a number; any other value is the valgrind option string
    (`valgrind -q $TEST_NGINX_USE_VALGRIND nginx ...`).  ./valgrind.suppress is
    used when it exists, as in Test::Nginx.  nginx is stopped (SIGQUIT) after
    every block, as Test::Nginx does in this mode, so each report belongs to
    one block.  Our additions:
    TEST_NGINX_VALGRIND_SUPPRESSIONS  more suppression files (`:` separated)
    TEST_NGINX_VALGRIND_LOG   append every report to this file, each headed by
                              `=== tnginx-valgrind: FILE BLOCK (pid N)`; unset:
                              reports go to stderr (where Test::Nginx shows them)
    TEST_NGINX_VALGRIND_START_TIMEOUT  seconds to wait for nginx to listen (60)
    TEST_NGINX_VALGRIND_STOP_TIMEOUT   seconds to wait for it to exit (120)
    Valgrind reports never fail a block (neither do they in Test::Nginx); a
    WARNING under the block says how many lines valgrind wrote.

Known deviations from the real Test::Nginx are listed in DEVIATIONS below and
printed with --deviations.
"""

from __future__ import print_function

import difflib
import errno
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings

DEVIATIONS = r"""
Known deviations from the real Test::Nginx (openresty/test-nginx):
 * Blocks always run in file order; Test::Nginx shuffles them unless
   no_shuffle() is called (or TEST_NGINX_NO_SHUFFLE is set).
 * One result line per block, not one TAP assertion per check; `plan` is
   ignored (Test::Nginx would also complain about a wrong test count).
 * Situations where Test::Nginx bails out of the whole file (bad section
   values, arrays missing for `request eval`, undefined $TEST_NGINX_ vars, nginx
   failing to start) only fail the current block here.
 * nginx start is retried only for "Address already in use" (up to 5 s);
   Test::Nginx retries any start failure for 30 s before bailing out.
 * Stopping nginx waits up to 10 s (Test::Nginx: 3 s) before SIGKILL.
 * Perl is not available: `eval` sections and preamble statements are
   interpreted by a small evaluator (see the module doc string).  Unknown
   preamble statements are ignored with a WARNING.
 * Perl regexes are translated to Python `re` (with re.ASCII); \z, \Z, \h,
   \Q..\E, (?<name>), \k<name>, POSIX [:classes:] are translated, other
   Perl-only constructs make the block fail.
 * Lines `qr/.../` in a non-eval error_log/no_error_log section are literal
   substrings (as in Test::Nginx); we print a WARNING since that is almost
   never what the author meant.
 * TEST_NGINX_USE_HUP / USE_STAP / CHECK_LEAK / BENCHMARK /
   RANDOMIZE / USE_HTTP2 / USE_HTTP3 / USE_RR / NO_NGINX_MANAGER modes are
   not implemented (a WARNING is printed; the normal mode is used).
 * TEST_NGINX_USE_VALGRIND: valgrind writes to per-process files
   (--log-file=...%p, so a master and its workers do not interleave) that
   we copy to stderr or TEST_NGINX_VALGRIND_LOG once nginx has exited;
   Test::Nginx lets valgrind write to its own stderr.  We wait until nginx
   listens (up to TEST_NGINX_VALGRIND_START_TIMEOUT) instead of sleeping
   TEST_NGINX_SLEEP once, and wait up to TEST_NGINX_VALGRIND_STOP_TIMEOUT
   for it to exit (Test::Nginx sends SIGKILL after about 20 x
   TEST_NGINX_SLEEP + 1 s, which can cut off valgrind's leak report).  The
   keepalive_timeout is not lengthened (it is a fixed 68 s here anyway).
 * Unknown sections fail the block (Test::Nginx silently ignores them).
 * `--- SKIP` blocks and blocks not run because of ONLY/LAST are reported
   as skipped (Test::Base silently drops them).
 * Before starting nginx we check that the port is free (reads
   /proc/net/tcp) and fail the block with a clear message if it is not.
 * "\x{100}" and wider characters in eval strings are refused (Perl would
   compare a character string with the response bytes).
Faithful on purpose (these surprise people, but the real one does the same):
 * `--- error_code` on its own line keeps its trailing newline ("200\n")
   and does not equal "200"; use `--- error_code: 200`.
 * $TEST_NGINX_* variables are NOT expanded in `--- request`.
 * A block without `--- config` reuses the running nginx (no restart) and
   its error_log checks see the whole error.log.
 * With `--- request eval` arrays, every check section must be an array,
   and error_log / no_error_log are checked after each request against the
   part of error.log written since the previous check.
 * Test::Base's default filters `norm` + `trim` apply to every section, so a
   section keeps exactly one trailing newline (response_body_like patterns
   included, unless written inline `--- response_body_like: ...` or with
   the `chomp` filter).
"""

# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------

A = re.ASCII  # Perl byte-string semantics: \s \w \d are ASCII only

PERL_WS = ' \t\n\r\f\v'


def to_bytes(s):
    return s.encode('latin-1')


def from_bytes(b):
    return b.decode('latin-1')


def escape(s, limit=400):
    """Printable form (no quotes) of a (latin-1 encoded) byte string."""
    total = len(s)
    txt = to_bytes(s[:limit + 8]).decode('utf-8', 'backslashreplace')
    out = []
    for ch in txt:
        o = ord(ch)
        if ch == '\n':
            out.append('\\n')
        elif ch == '\r':
            out.append('\\r')
        elif ch == '\t':
            out.append('\\t')
        elif ch == '"':
            out.append('\\"')
        elif o < 32 or o == 127:
            out.append('\\x%02x' % o)
        else:
            out.append(ch)
    r = ''.join(out)
    if len(r) > limit or total > limit + 8:
        r = r[:limit] + '...(%d bytes)' % total
    return r


def show(s, limit=400):
    """Printable, quoted form of a (latin-1 encoded) byte string."""
    if s is None:
        return '(undef)'
    return '"' + escape(s, limit) + '"'


def show_line(s):
    """A log line without quotes, newline removed."""
    if s.endswith('\n'):
        s = s[:-1]
    return escape(s, 300)


def split_keep_lines(s):
    """Split like Perl's <$fh> readline: on \\n only, keeping the newline."""
    return re.findall(r'[^\n]*\n|[^\n]+\Z', s)


def perl_split(pattern, s, flags=0):
    """Perl's split(/pattern/, $s): trailing empty fields are removed."""
    if s == '':
        return []
    parts = re.split(pattern, s, flags=flags)
    while parts and parts[-1] == '':
        parts.pop()
    return parts


def chomp(s):
    if isinstance(s, str) and s.endswith('\n'):
        return s[:-1]
    return s


def parse_time(v):
    """Test::Nginx parse_time: '300ms' -> 0.3, '2s' -> 2, '1.5' -> 1.5."""
    if v is None:
        return None
    s = PerlCtx.to_str(v).strip()
    if s == '':
        return None
    m = re.match(r'^(.*[^_a-zA-Z])ms$', s)
    if m:
        return float(m.group(1)) / 1000.0
    m = re.match(r'^(.*[^_a-zA-Z])s$', s)
    if m:
        s = m.group(1)
    try:
        return float(s)
    except ValueError:
        raise BlockError('bad time value %s' % show(s))


class BlockError(Exception):
    """The block cannot be run/checked; the message is the reason."""


class PerlError(Exception):
    pass


# ---------------------------------------------------------------------------
# Perl regexes -> Python re
# ---------------------------------------------------------------------------

POSIX_CLASSES = {
    'alpha': 'a-zA-Z', 'digit': '0-9', 'alnum': 'a-zA-Z0-9', 'upper': 'A-Z',
    'lower': 'a-z', 'space': ' \\t\\n\\r\\f\\v', 'blank': ' \\t',
    'xdigit': '0-9A-Fa-f', 'word': '\\w', 'punct': '!-/:-@\\[-`{-~',
    'cntrl': '\\x00-\\x1f\\x7f', 'print': '\\x20-\\x7e', 'graph': '\\x21-\\x7e',
}


def translate_perl_regex(pat):
    out = []
    i, n = 0, len(pat)
    in_class = False
    while i < n:
        c = pat[i]
        if c == '\\':
            if i + 1 >= n:
                raise PerlError('trailing backslash in regex')
            d = pat[i + 1]
            if d == 'Q':
                j = pat.find('\\E', i + 2)
                lit = pat[i + 2:] if j < 0 else pat[i + 2:j]
                out.append(re.escape(lit))
                i = n if j < 0 else j + 2
                continue
            if d == 'E':
                i += 2
                continue
            if d == 'z' and not in_class:
                out.append('\\Z')
            elif d == 'Z' and not in_class:
                out.append('(?=\\n?\\Z)')
            elif d == 'h':
                out.append(' \\t' if in_class else '[ \\t]')
            elif d == 'H' and not in_class:
                out.append('[^ \\t]')
            elif d == 'v':
                out.append('\\n\\x0b\\f\\r' if in_class else '[\\n\\x0b\\f\\r]')
            elif d == 'N' and not in_class and pat[i + 2:i + 3] != '{':
                out.append('[^\\n]')
            elif d == 'e':
                out.append('\\x1b')
            elif d == 'x' and pat[i + 2:i + 3] == '{':
                j = pat.find('}', i + 3)
                if j < 0:
                    raise PerlError('bad \\x{...} in regex')
                cp = int(pat[i + 3:j].strip() or '0', 16)
                out.append('\\x%02x' % cp if cp < 256 else '\\u%04x' % cp)
                i = j + 1
                continue
            elif d == 'k' and pat[i + 2:i + 3] in ('<', '{', "'"):
                close = {'<': '>', '{': '}', "'": "'"}[pat[i + 2]]
                j = pat.find(close, i + 3)
                if j < 0:
                    raise PerlError('bad \\k<name> in regex')
                out.append('(?P=%s)' % pat[i + 3:j])
                i = j + 1
                continue
            elif d == 'g':
                m = re.compile(r'\\g(?:\{(\d+)\}|(\d+))').match(pat, i)
                if not m:
                    raise PerlError('unsupported Perl regex escape \\g (relative or named)')
                out.append('\\' + (m.group(1) or m.group(2)))
                i = m.end()
                continue
            elif d in 'KGRXpPCulLUo':
                raise PerlError('unsupported Perl regex escape \\%s' % d)
            else:
                out.append(c + d)
            i += 2
            continue
        if in_class:
            if c == '[' and pat[i + 1:i + 2] in (':', '=', '.'):
                m = re.compile(r'\[:(\^?)(\w+):\]').match(pat, i)
                if not m or m.group(2) not in POSIX_CLASSES:
                    raise PerlError('unsupported POSIX class in regex near %r' % pat[i:i + 12])
                if m.group(1):
                    raise PerlError('negated POSIX classes are not supported')
                out.append(POSIX_CLASSES[m.group(2)])
                i = m.end()
                continue
            if c == '[':
                out.append('\\[')
            else:
                if c == ']':
                    in_class = False
                out.append(c)
            i += 1
            continue
        if c == '[':
            in_class = True
            out.append('[')
            i += 1
            if pat[i:i + 1] == '^':
                out.append('^')
                i += 1
            if pat[i:i + 1] == ']':
                out.append('\\]')
                i += 1
            continue
        if c == '(' and pat[i + 1:i + 2] == '?':
            rest = pat[i + 2:]
            if rest.startswith('<') and rest[1:2] not in ('=', '!'):
                out.append('(?P<')
                i += 3
                continue
            if rest.startswith("'"):
                j = pat.find("'", i + 3)
                out.append('(?P<%s>' % pat[i + 3:j])
                i = j + 1
                continue
            if rest.startswith('^'):
                m = re.compile(r'\(\?\^([a-z]*)([:)])').match(pat, i)
                if not m:
                    raise PerlError('unsupported (?^...) construct in regex')
                on = m.group(1)
                bad = set(on) - set('imsx')
                if bad:
                    raise PerlError('unsupported regex flags %s' % ''.join(sorted(bad)))
                off = ''.join(f for f in 'imsx' if f not in on)
                out.append('(?%s%s%s' % (on, ('-' + off) if off else '', m.group(2)))
                if m.group(2) == ')':
                    raise PerlError('unsupported (?^flags) construct in regex')
                i = m.end()
                continue
            if rest[:1] in ('|', '{') or rest.startswith('?{') or rest.startswith('??'):
                raise PerlError('unsupported Perl regex construct (?%s' % rest[:1])
        if c == '(' and pat[i + 1:i + 2] == '*':
            raise PerlError('unsupported Perl regex verb (*...)')
        out.append(c)
        i += 1
    return ''.join(out)


_regex_cache = {}


def compile_perl_regex(pat, flags=''):
    key = (pat, flags)
    if key in _regex_cache:
        return _regex_cache[key]
    f = re.ASCII
    for ch in flags:
        if ch == 'i':
            f |= re.I
        elif ch == 'm':
            f |= re.M
        elif ch == 's':
            f |= re.S
        elif ch == 'x':
            f |= re.X
        elif ch in 'o':
            pass
        else:
            raise PerlError('unsupported regex flag /%s' % ch)
    py = translate_perl_regex(pat)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            rx = re.compile(py, f)
    except re.error as e:
        raise PerlError('cannot translate Perl regex /%s/ to Python (%s): %s' % (pat, py, e))
    _regex_cache[key] = rx
    return rx


class Regex(object):
    """A Perl qr// object."""

    def __init__(self, pattern, flags=''):
        self.pattern = pattern
        self.flags = flags
        self.rx = compile_perl_regex(pattern, flags)

    def __str__(self):
        return '(?^%s:%s)' % (self.flags, self.pattern)

    def __repr__(self):
        return 'qr/%s/%s' % (self.pattern, self.flags)

    def search(self, s):
        return self.rx.search(s)


class ArrayRef(list):
    pass


class PList(list):
    """A parenthesised Perl list (flattens into enclosing lists)."""


# ---------------------------------------------------------------------------
# a tiny Perl expression evaluator
# ---------------------------------------------------------------------------

class PerlCtx(object):
    """Variables + warnings shared by the evaluator.

    scope 'preamble': the .t file's own code - `my`/`our` variables visible.
    scope 'section' : Test::Base evaluates `--- x eval` in package
                      Test::Base::Filter, so only $::name / $main::name (our
                      variables of package main) and $ENV{..} are visible.
    """

    def __init__(self):
        self.our = {}
        self.my = {}
        self.funcs = {}
        self.scope = 'section'
        self.warnings = []

    def warn(self, msg):
        if msg not in self.warnings:
            self.warnings.append(msg)

    def lookup(self, name):
        if name.startswith('main::'):
            name = '::' + name[6:]
        if name.startswith('::'):
            n = name[2:]
            if n in self.our:
                return self.our[n]
            self.warn('use of undefined variable $%s (treated as empty, like Perl)' % name)
            return None
        if self.scope == 'preamble':
            if name in self.my:
                return self.my[name]
            if name in self.our:
                return self.our[name]
            self.warn('use of undefined variable $%s (treated as empty, like Perl)' % name)
            return None
        self.warn('$%s is undefined inside a Test::Base eval section (it runs in package '
                  'Test::Base::Filter; use $::%s for an `our` variable); treated as empty'
                  % (name, name))
        return None

    @staticmethod
    def to_str(v):
        if v is None:
            return ''
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return '1' if v else ''
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            if v == int(v) and abs(v) < 1e15:
                return str(int(v))
            return '%.15g' % v
        if isinstance(v, Regex):
            return str(v)
        if isinstance(v, PList):
            if len(v) == 1:
                return PerlCtx.to_str(v[0])
            if not v:
                return ''
            raise PerlError('a list of %d values used where one string is expected' % len(v))
        if isinstance(v, ArrayRef):
            raise PerlError('an array reference used where a string is expected')
        raise PerlError('cannot stringify %r' % (v,))

    @staticmethod
    def to_num(v):
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, (int, float)):
            return v
        if v is None:
            return 0
        if isinstance(v, PList) and len(v) == 1:
            return PerlCtx.to_num(v[0])
        s = PerlCtx.to_str(v)
        m = re.match(r'\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)', s)
        if not m:
            if s.strip() == '':
                return 0
            raise PerlError('non-numeric value %s used as a number' % show(s))
        t = m.group(1)
        if re.match(r'^[-+]?\d+$', t):
            return int(t)
        return float(t)


PAIRS = {'(': ')', '[': ']', '{': '}', '<': '>'}
_ident_re = re.compile(r'[A-Za-z_]\w*(?:::\w+)*', A)
_env_re = re.compile(r'\$ENV\{\s*(?:([A-Za-z_]\w*)|"([^"]*)"|\'([^\']*)\')\s*\}', A)
_var_re = re.compile(r'\$(?:\{\s*(\w+(?:::\w+)*)\s*\}|((?:main)?::\w+|[A-Za-z_]\w*(?:::\w+)*))', A)
_num_re = re.compile(r'0[xX][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.\d[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?', A)


class PerlEval(object):
    def __init__(self, src, ctx):
        self.s = src
        self.i = 0
        self.ctx = ctx

    # -- lexing helpers -----------------------------------------------------
    def err(self, msg):
        near = self.s[self.i:self.i + 40]
        raise PerlError('%s near %s' % (msg, show(near, 60)))

    def ws(self):
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in ' \t\r\n\f':
                self.i += 1
            elif c == '#':
                j = s.find('\n', self.i)
                self.i = len(s) if j < 0 else j + 1
            else:
                break

    def peek(self, k=1):
        return self.s[self.i:self.i + k]

    def expect(self, ch):
        self.ws()
        if self.peek() != ch:
            self.err('expected %r' % ch)
        self.i += 1

    def read_delimited(self, open_ch):
        """self.i is just after the opening delimiter; returns raw body."""
        close_ch = PAIRS.get(open_ch, open_ch)
        s = self.s
        depth = 0
        start = self.i
        i = self.i
        while i < len(s):
            c = s[i]
            if c == '\\':
                i += 2
                continue
            if open_ch != close_ch and c == open_ch:
                depth += 1
            elif c == close_ch:
                if depth == 0:
                    self.i = i + 1
                    return s[start:i]
                depth -= 1
            i += 1
        self.i = start
        self.err('unterminated string (missing %r)' % close_ch)

    # -- grammar --------------------------------------------------------------
    def run(self):
        vals = self.list_expr(None)
        self.ws()
        while self.peek() == ';':
            self.i += 1
            self.ws()
        if self.i < len(self.s):
            self.err('unsupported Perl syntax')
        return vals

    def list_expr(self, closer):
        items = []
        while True:
            self.ws()
            if self.i >= len(self.s) or self.peek() == ';' or (closer and self.peek() == closer):
                break
            v = self.additive()
            if isinstance(v, PList):
                items.extend(v)
            else:
                items.append(v)
            self.ws()
            if self.peek() == ',':
                self.i += 1
            elif self.peek(2) == '=>':
                self.i += 2
            else:
                break
        return items

    def additive(self):
        left = self.multiplicative()
        while True:
            self.ws()
            c, c2 = self.peek(), self.peek(2)
            if c == '.' and c2 not in ('..', '.=') and not c2[1:].isdigit():
                self.i += 1
                right = self.multiplicative()
                left = self.ctx.to_str(left) + self.ctx.to_str(right)
            elif c and c in '+-' and c2 not in ('+=', '-=', '++', '--', '->'):
                self.i += 1
                right = self.multiplicative()
                a, b = self.ctx.to_num(left), self.ctx.to_num(right)
                left = a + b if c == '+' else a - b
            else:
                return left

    def multiplicative(self):
        left = self.unary()
        while True:
            self.ws()
            c, c2 = self.peek(), self.peek(2)
            if c == 'x' and c2 != 'x=' and not (len(c2) == 2 and (c2[1].isalpha() or c2[1] == '_')):
                self.i += 1
                right = self.unary()
                n = int(self.ctx.to_num(right))
                if isinstance(left, PList):
                    left = PList(list(left) * max(n, 0))
                else:
                    left = self.ctx.to_str(left) * max(n, 0)
            elif c == '*' and c2 not in ('**', '*='):
                self.i += 1
                left = self.ctx.to_num(left) * self.ctx.to_num(self.unary())
            elif c == '/' and c2 != '/=':
                self.i += 1
                b = self.ctx.to_num(self.unary())
                if b == 0:
                    self.err('division by zero')
                r = self.ctx.to_num(left) / b
                left = int(r) if r == int(r) else r
            elif c == '%' and c2 != '%=':
                self.i += 1
                left = int(self.ctx.to_num(left)) % int(self.ctx.to_num(self.unary()))
            else:
                return left

    def unary(self):
        self.ws()
        c = self.peek()
        if c == '-' and self.peek(2) != '->':
            self.i += 1
            return -self.ctx.to_num(self.unary())
        if c == '+':
            self.i += 1
            return self.unary()
        return self.primary()

    def primary(self):
        self.ws()
        c = self.peek()
        if not c:
            self.err('unexpected end of Perl expression')
        if c == '"':
            self.i += 1
            return self.interpolate(self.read_delimited('"'), '"')
        if c == "'":
            self.i += 1
            return self.sq_unescape(self.read_delimited("'"), "'")
        if c == '[':
            self.i += 1
            items = self.list_expr(']')
            self.expect(']')
            return ArrayRef(items)
        if c == '(':
            self.i += 1
            items = self.list_expr(')')
            self.expect(')')
            return PList(items)
        if c.isdigit() or (c == '.' and self.peek(2)[1:].isdigit()):
            m = _num_re.match(self.s, self.i)
            self.i = m.end()
            t = m.group(0).replace('_', '')
            if t[:2] in ('0x', '0X'):
                return int(t, 16)
            if re.match(r'^\d+$', t):
                return int(t, 8) if len(t) > 1 and t[0] == '0' else int(t)
            return float(t)
        if c == '$':
            return self.variable()
        if c == '@' or c == '%' or c == '&' or c == '\\':
            self.err('unsupported Perl syntax (arrays/hashes/references/subs)')
        m = _ident_re.match(self.s, self.i)
        if not m:
            self.err('unsupported Perl syntax')
        word = m.group(0)
        j = m.end()
        if word in ('q', 'qq', 'qr', 'qw'):
            k = j
            while k < len(self.s) and self.s[k] in ' \t\r\n':
                k += 1
            if k < len(self.s) and self.s[k:k + 2] != '=>' and \
                    not (self.s[k].isalnum() or self.s[k] in '_,;'):
                delim = self.s[k]
                self.i = k + 1
                raw = self.read_delimited(delim)
                if word == 'q':
                    return self.sq_unescape(raw, delim)
                if word == 'qq':
                    return self.interpolate(raw, delim)
                if word == 'qw':
                    return PList(raw.split())
                fm = re.compile(r'[a-z]*').match(self.s, self.i)
                self.i = fm.end()
                pat = raw if delim == "'" else self.interpolate_regex(raw)
                try:
                    return Regex(pat, fm.group(0))
                except PerlError as e:
                    raise PerlError(str(e))
        self.i = j
        self.ws()
        if self.peek(2) == '=>':
            return word  # fat comma quotes the bareword
        if word == 'undef':
            if self.peek() == '(':
                self.i += 1
                self.expect(')')
            return None
        funcs = {'cwd': lambda a: os.getcwd(), 'getcwd': lambda a: os.getcwd(),
                 'chr': lambda a: chr(int(self.ctx.to_num(a[0])) & 0xff),
                 'join': lambda a: self.ctx.to_str(a[0]).join(self.ctx.to_str(x) for x in a[1:]),
                 'lc': lambda a: self.ctx.to_str(a[0]).lower(),
                 'uc': lambda a: self.ctx.to_str(a[0]).upper(),
                 'length': lambda a: len(self.ctx.to_str(a[0]))}
        funcs.update(self.ctx.funcs)
        if word.startswith('Cwd::'):
            word = word[5:]
        if word in funcs:
            args = []
            if self.peek() == '(':
                self.i += 1
                args = self.list_expr(')')
                self.expect(')')
            elif word not in ('cwd', 'getcwd') and word not in self.ctx.funcs:
                self.err('please use parentheses with %s()' % word)
            try:
                return funcs[word](args)
            except IndexError:
                self.err('%s(): missing argument' % word)
        self.i = m.start()
        self.err('unsupported Perl syntax (bareword/function %s)' % word)

    def variable(self):
        m = _env_re.match(self.s, self.i)
        if m:
            self.i = m.end()
            name = m.group(1) or m.group(2) or m.group(3) or ''
            return os.environ.get(name)
        m = _var_re.match(self.s, self.i)
        if not m:
            self.err('unsupported variable syntax')
        self.i = m.end()
        if self.peek() in ('[', '{') or self.peek(2) == '->':
            self.err('array/hash element access is not supported')
        return self.ctx.lookup(m.group(1) or m.group(2))

    @staticmethod
    def sq_unescape(raw, delim):
        close = PAIRS.get(delim, delim)
        out = []
        i = 0
        while i < len(raw):
            c = raw[i]
            if c == '\\' and i + 1 < len(raw) and raw[i + 1] in ('\\', delim, close):
                out.append(raw[i + 1])
                i += 2
                continue
            out.append(c)
            i += 1
        return ''.join(out)

    def _interp_var(self, raw, i):
        """raw[i] == '$'.  Returns (value_string, new_i) or None for a literal '$'."""
        m = _env_re.match(raw, i)
        if m:
            v = os.environ.get(m.group(1) or m.group(2) or m.group(3) or '')
            return self.ctx.to_str(v), m.end()
        m = _var_re.match(raw, i)
        if not m:
            return None
        j = m.end()
        if raw[j:j + 1] == '[' or (raw[j:j + 1] == '{' and not m.group(1)) or raw[j:j + 2] == '->':
            raise PerlError('interpolation of array/hash elements is not supported near %s'
                            % show(raw[i:i + 30]))
        return self.ctx.to_str(self.ctx.lookup(m.group(1) or m.group(2))), j

    def interpolate(self, raw, delim):
        """Double-quoted string semantics (escapes + $var interpolation)."""
        close = PAIRS.get(delim, delim)
        out = []
        i, n = 0, len(raw)
        simple = {'n': '\n', 't': '\t', 'r': '\r', 'f': '\f', 'b': '\b', 'a': '\a', 'e': '\x1b'}
        while i < n:
            c = raw[i]
            if c == '\\' and i + 1 < n:
                d = raw[i + 1]
                if d in simple:
                    out.append(simple[d])
                    i += 2
                elif d in '01234567':
                    m = re.compile(r'[0-7]{1,3}').match(raw, i + 1)
                    out.append(chr(int(m.group(0), 8) & 0xff))
                    i = m.end()
                elif d == 'o' and raw[i + 2:i + 3] == '{':
                    j = raw.index('}', i + 3)
                    out.append(chr(int(raw[i + 3:j], 8) & 0xff))
                    i = j + 1
                elif d == 'x':
                    if raw[i + 2:i + 3] == '{':
                        j = raw.find('}', i + 3)
                        if j < 0:
                            raise PerlError('bad \\x{...} escape')
                        cp = int(raw[i + 3:j].strip() or '0', 16)
                        if cp > 255:
                            raise PerlError('wide character \\x{%s} is not supported (Perl would '
                                            'compare a character string with response bytes)'
                                            % raw[i + 3:j])
                        out.append(chr(cp))
                        i = j + 1
                    else:
                        m = re.compile(r'[0-9a-fA-F]{0,2}').match(raw, i + 2)
                        out.append(chr(int(m.group(0) or '0', 16)))
                        i = m.end()
                elif d == 'c' and i + 2 < n:
                    out.append(chr(ord(raw[i + 2].upper()) ^ 64))
                    i += 3
                elif d in 'uUlLQEN':
                    raise PerlError('unsupported escape \\%s in a double-quoted string' % d)
                else:
                    out.append(d)
                    i += 2
                continue
            if c == '$':
                r = self._interp_var(raw, i)
                if r is None:
                    out.append('$')
                    i += 1
                else:
                    out.append(r[0])
                    i = r[1]
                continue
            if c == '@' and re.compile(r'@[A-Za-z_:{]').match(raw, i):
                m = re.compile(r'@\{?(\w+)').match(raw, i)
                self.ctx.warn('Perl interpolates the (undefined) array @%s in a string to "" '
                              '(escape it as \\@)' % (m.group(1) if m else '?'))
                i = m.end() if m else i + 1
                if raw[i:i + 1] == '}':
                    i += 1
                continue
            out.append(c)
            i += 1
        return ''.join(out)

    def interpolate_regex(self, raw):
        out = []
        i, n = 0, len(raw)
        while i < n:
            c = raw[i]
            if c == '\\' and i + 1 < n:
                out.append(raw[i:i + 2])
                i += 2
                continue
            if c == '$' and i + 1 < n and (raw[i + 1].isalpha() or raw[i + 1] in '_{:'):
                r = self._interp_var(raw, i)
                if r is not None:
                    out.append(r[0])
                    i = r[1]
                    continue
            if c == '@' and i + 1 < n and (raw[i + 1].isalpha() or raw[i + 1] == '_'):
                raise PerlError('array interpolation in qr// is not supported')
            out.append(c)
            i += 1
        return ''.join(out)


def perl_eval(src, ctx):
    """Evaluate `src` the way Test::Base's eval filter does; returns one value."""
    vals = PerlEval(src, ctx).run()
    if len(vals) == 1:
        return vals[0]
    if len(vals) == 0:
        return None
    raise PerlError('the expression yields a list of %d values; wrap it in [ ... ] '
                    '(Test::Base would keep the whole list)' % len(vals))


# ---------------------------------------------------------------------------
# .t file parsing (Test::Base)
# ---------------------------------------------------------------------------

SUPPORTED_SECTIONS = set('''
config http_config main_config post_main_config server_name
request pipelined_requests more_headers shutdown abort timeout wait ignore_response
log_level error_code error_code_like response_body response_body_like response_body_unlike
response_headers response_headers_like raw_response_headers_like raw_response_headers_unlike
error_log no_error_log grep_error_log grep_error_log_out shutdown_error_log
no_shutdown_error_log access_log no_access_log skip_nginx no_check_leak suppress_stderr
no_http2 no_http3 no_mockeagain ONLY SKIP LAST
'''.split())

# sections the real Test::Nginx knows but this runner does not implement
REAL_ONLY_SECTIONS = set('''
charset curl curl_error curl_options curl_protocol error_log_file http09 http2 http3 init
must_die post_setup_server_root quic_max_idle_timeout raw_request raw_request_middle_delay
reload_fails req_headers request_eval resp_title response_body_eval response_body_filters
response_body_json_sort skip_eval skip_nginx2 skip_openssl skip_slave stap stap_out
stap_out_like stap_out_unlike tcp_listen tcp_no_close tcp_query tcp_query_auto_timeout
tcp_query_len tcp_reply tcp_reply_delay tcp_shutdown tcp_shutdown_delay todo todo_nginx
udp_listen udp_query udp_reply udp_reply_delay user_files write_resp_body_file
'''.split())

KNOWN_FILTERS = ('norm', 'trim', 'chomp', 'chop', 'unchomp', 'eval')


class Block(object):
    def __init__(self, name, seq):
        self.name = name
        self.seq = seq
        self.raw = {}          # name -> (filters string, raw value)
        self.order = []
        self.values = {}       # name -> filtered value
        self.errors = []       # reasons the block cannot run
        self.warnings = []

    def has(self, k):
        return k in self.values and self.values[k] is not None

    def get(self, k, default=None):
        v = self.values.get(k)
        return default if v is None else v


def apply_filters(value, filters_str, ctx):
    flist = ['norm', 'trim']
    append = []
    for f in filters_str.split():
        if f.startswith('-'):
            flist = [x for x in flist if x != f[1:]]
        elif f.startswith('+'):
            append.append(f[1:])
        else:
            flist.append(f)
    flist += append
    for f in flist:
        if f not in KNOWN_FILTERS:
            raise PerlError('unsupported Test::Base filter %r' % f)
    for f in flist:
        if f in ('norm', 'trim', 'chomp', 'chop') and not isinstance(value, str):
            continue  # Test::Base: these only modify plain strings, not references
        if f == 'norm':
            value = value.replace('\r\n', '\n').replace('\r', '\n')
        elif f == 'trim':
            value = re.sub(r'\A([ \t]*\n)+', '', value)
            value = re.sub(r'(?<=\n)\s*\Z', '', value, flags=A)
        elif f == 'chomp':
            value = chomp(value)
        elif f == 'chop':
            value = value[:-1]
        elif f == 'unchomp':
            value = PerlCtx.to_str(value) + '\n'
        elif f == 'eval':
            if not isinstance(value, str):
                raise PerlError('eval filter on a non-string value')
            value = perl_eval(value, ctx)
    return value


def parse_blocks(data, ctx):
    hunks = re.findall(r'^(===.*?(?=^===|\Z))', data, re.M | re.S)
    blocks = []
    for seq, hunk in enumerate(hunks, 1):
        m = re.match(r'===[ \t]*(.*)\s+', hunk, A)
        if not m:
            name = hunk.strip()
            rest = ''
        else:
            name = m.group(1)
            rest = hunk[m.end():]
        b = Block(name, seq)
        parts = re.split(r'^--- +\(?(\w+)\)? *(.*)?\n', rest, flags=re.M | A)
        parts.pop(0)  # description
        while parts:
            typ, filters, value = (parts + [None, None, None])[:3]
            parts = parts[3:]
            filters = filters or ''
            value = value or ''
            if re.search(r':(\s|\Z)', filters):
                if re.search(r'\S', value):
                    b.errors.append("Extra lines not allowed in '%s' section (Test::Base croaks)" % typ)
                fv = re.split(r'\s*:(?:\s+|\Z)', filters, maxsplit=1)
                filters = fv[0]
                value = fv[1] if len(fv) > 1 else ''
                value = re.sub(r'^\s*(.*?)\s*$', r'\1', value, flags=re.S | A)
            if typ not in b.raw:
                b.order.append(typ)
            b.raw[typ] = (filters, value)
        blocks.append(b)
    for b in blocks:
        for typ in b.order:
            filters, value = b.raw[typ]
            ctx.warnings = []
            try:
                b.values[typ] = apply_filters(value, filters, ctx)
            except PerlError as e:
                b.errors.append('section "--- %s %s": %s' % (typ, filters, e))
                b.values[typ] = None
            for w in ctx.warnings:
                b.warnings.append('section "--- %s": %s' % (typ, w))
            if typ not in SUPPORTED_SECTIONS:
                if typ in REAL_ONLY_SECTIONS:
                    b.errors.append('unsupported section "--- %s" (a real Test::Nginx section '
                                    'that tnginx.py does not implement)' % typ)
                else:
                    b.errors.append('unsupported section "--- %s" (unknown to tnginx.py; '
                                    'the real Test::Nginx would silently ignore it)' % typ)
    return blocks


# ---------------------------------------------------------------------------
# preamble (Perl code before __DATA__)
# ---------------------------------------------------------------------------

class FileConf(object):
    def __init__(self, g):
        env = os.environ
        self.repeat_each = 1
        self.workers = 1
        self.worker_connections = 64
        self.master = env.get('TEST_NGINX_MASTER_PROCESS') or 'off'
        self.log_level = env.get('TEST_NGINX_LOG_LEVEL') or 'debug'
        self.no_root_location = False
        self.check_accum = bool(env.get('TEST_NGINX_CHECK_ACCUM_ERR_LOG'))
        self.env_to_nginx = []
        self.timeout = float(env.get('TEST_NGINX_TIMEOUT') or 3)
        self.config_preamble = ''
        self.lua_module = False
        self.skip_all = None
        self.fatal = []
        self.warnings = []
        # read when Test::Nginx is loaded (`use` runs before any preamble statement)
        self.load_modules = [x for x in (env.get('TEST_NGINX_LOAD_MODULES') or '').split() if x]
        self.event_type = env.get('TEST_NGINX_EVENT_TYPE')
        self.worker_user = env.get('TEST_NGINX_WORKER_USER')
        self.init_by_lua = env.get('TEST_NGINX_INIT_BY_LUA')
        fr = env.get('TEST_NGINX_FORCE_RESTART_ON_TEST')
        self.force_restart = True if fr is None else bool(fr and fr != '0')


def strip_pod(code):
    return re.sub(r'^=[a-zA-Z].*?(?:^=cut\b[^\n]*\n?|\Z)', '', code, flags=re.M | re.S)


def split_statements(code):
    """Split Perl code into top-level statements (on `;` and on the `}` that
    closes a top-level block; `{` directly after a word/`}`/`]`/`>` is a
    subscript such as $ENV{X} and does not end a statement)."""
    stmts = []
    buf = []
    stack = []
    i, n = 0, len(code)

    def flush():
        s = ''.join(buf).strip()
        if s:
            stmts.append(s)
        del buf[:]

    while i < n:
        c = code[i]
        if c == '#' and (i == 0 or code[i - 1] != '$'):
            j = code.find('\n', i)
            i = n if j < 0 else j
            continue
        if c in '"\'':
            j = i + 1
            while j < n and code[j] != c:
                j += 2 if code[j] == '\\' else 1
            buf.append(code[i:j + 1])
            i = j + 1
            continue
        if c in '([':
            stack.append(c)
        elif c == '{':
            prev = code[i - 1] if i > 0 else ''
            stack.append('s' if (prev.isalnum() or prev in '_}]>') else '{')
        elif c in ')]}':
            kind = stack.pop() if stack else None
            if c == '}' and kind == '{' and not stack:
                buf.append(c)
                flush()
                i += 1
                continue
        if c == ';' and not stack:
            flush()
            i += 1
            continue
        buf.append(c)
        i += 1
    flush()
    return stmts


OK_MODULES = ('strict', 'warnings', 'lib', 'Cwd', 'File::Spec', 'utf8', 'Test::Nginx::Socket',
              'Test::Nginx::Socket::Lua', 'Test::More', 'Data::Dumper', 'Time::HiRes', 'v5')


def parse_preamble(code, fc, ctx, servroot, port):
    ctx.scope = 'preamble'
    ctx.funcs = {
        'html_dir': lambda a: os.path.join(servroot, 'html'),
        'server_root': lambda a: servroot,
        'server_port': lambda a: str(port),
        'repeat_each': lambda a: fc.repeat_each,
        'workers': lambda a: fc.workers,
        'blocks': lambda a: 0,
    }
    code = strip_pod(code)
    heredocs = {}

    def heredoc_sub(m):
        k = '__TNGINX_HEREDOC_%d__' % len(heredocs)
        heredocs[k] = m
        return '%s %s $%s = %s;\n' % (m.group(1), k, m.group(2), k)

    code = re.sub(r'^[ \t]*(our|my)\s+\$(\w+)\s*=\s*<<(~?)\s*(?:"(\w+)"|\'(\w+)\'|(\w+))\s*;[ \t]*\n'
                  r'(.*?)^[ \t]*(?:\4|\5|\6)[ \t]*\n?', heredoc_sub, code, flags=re.M | re.S)

    for st in split_statements(code):
        one = ' '.join(st.split())
        try:
            _preamble_stmt(st, one, fc, ctx, heredocs)
        except PerlError as e:
            fc.warnings.append('preamble statement not understood (ignored): %s -- %s'
                               % (one[:100], e))
    for w in ctx.warnings:
        fc.warnings.append('preamble: ' + w)
    ctx.warnings = []
    ctx.scope = 'section'


def _preamble_stmt(st, one, fc, ctx, heredocs):
    m = re.match(r'(our|my)\s+(__TNGINX_HEREDOC_\d+__)\s', st)
    if m:
        hm = heredocs[m.group(2)]
        body = hm.group(7)
        if hm.group(3) == '~':
            lines = body.split('\n')
            ind = min([len(l) - len(l.lstrip(' \t')) for l in lines if l.strip()] or [0])
            body = '\n'.join(l[ind:] for l in lines)
        if hm.group(5) is None:  # not single quoted -> interpolate
            body = PerlEval('', ctx).interpolate(body, '\0')
        (ctx.our if hm.group(1) == 'our' else ctx.my)[hm.group(2)] = body
        return
    m = re.match(r'use\s+([\w:]+)', one)
    if m:
        mod = m.group(1)
        if mod == 'Test::Nginx::Socket::Lua':
            fc.lua_module = True
        elif mod in ('Test::Nginx::Socket::Lua::Stream', 'Test::Nginx::Socket::Lua::Dgram',
                     'Test::Nginx::LWP', 'Test::Nginx'):
            fc.fatal.append('%s is not supported by tnginx.py (only Test::Nginx::Socket'
                            '(::Lua) HTTP tests are)' % mod)
        elif mod not in OK_MODULES and not re.match(r'v?5[\d.]*$', mod):
            fc.warnings.append('preamble uses module %s; tnginx.py does not know what it '
                               'does (ignored)' % mod)
        return
    if re.match(r'no\s+\w', one):
        return
    m = re.match(r'plan\b(.*)', one, re.S)
    if m:
        if 'skip_all' in m.group(1):
            mm = re.match(r'\s*\(?\s*skip_all\s*=>\s*(.*?)\)?\s*$', m.group(1), re.S)
            try:
                reason = PerlCtx.to_str(perl_eval(mm.group(1), ctx)) if mm else 'skip_all'
            except PerlError:
                reason = m.group(1).strip()
            fc.skip_all = reason or 'skip_all'
        return
    m = re.match(r'\$ENV\{\s*[\'"]?(\w+)[\'"]?\s*\}\s*(\|\||//)?=\s*(.*)$', st, re.S)
    if m:
        name, op, rhs = m.group(1), m.group(2), m.group(3)
        cur = os.environ.get(name)
        if op == '||' and cur not in (None, '', '0'):
            return
        if op == '//' and cur is not None:
            return
        v = perl_eval(rhs, ctx)
        if v is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = PerlCtx.to_str(v)
        return
    m = re.match(r'(our|my)\s+\$(\w+)\s*(?:=\s*(.*))?$', st, re.S)
    if m:
        v = perl_eval(m.group(3), ctx) if m.group(3) is not None else None
        if isinstance(v, ArrayRef):
            pass
        (ctx.our if m.group(1) == 'our' else ctx.my)[m.group(2)] = v
        return
    m = re.match(r'\$(\w+)\s*(\.)?=\s*(.*)$', st, re.S)
    if m and (m.group(1) in ctx.my or m.group(1) in ctx.our):
        tbl = ctx.my if m.group(1) in ctx.my else ctx.our
        v = perl_eval(m.group(3), ctx)
        tbl[m.group(1)] = (PerlCtx.to_str(tbl[m.group(1)]) + PerlCtx.to_str(v)) if m.group(2) else v
        return
    m = re.match(r'([A-Za-z_]\w*)\s*(?:\((.*)\)|(.*))$', st, re.S)
    if m:
        fn = m.group(1)
        argsrc = m.group(2) if m.group(2) is not None else (m.group(3) or '')
        known = ('repeat_each', 'master_on', 'master_off', 'master_process_enabled', 'workers',
                 'worker_connections', 'log_level', 'no_shuffle', 'no_long_string', 'no_diff',
                 'no_root_location', 'run_tests', 'check_accum_error_log', 'env_to_nginx',
                 'timeout', 'config_preamble')
        if fn in known:
            args = PerlEval(argsrc, ctx).run() if argsrc.strip() else []
            _preamble_call(fn, args, fc)
            return
        fc.warnings.append('unsupported preamble statement (ignored): %s' % one[:120])
        return
    fc.warnings.append('unsupported preamble statement (ignored): %s' % one[:120])


def _preamble_call(fn, args, fc):
    num = PerlCtx.to_num
    s = PerlCtx.to_str
    if fn == 'repeat_each':
        if args:
            fc.repeat_each = int(num(args[0]))
    elif fn == 'master_on':
        fc.master = 'on'
    elif fn == 'master_off':
        fc.master = 'off'
    elif fn == 'master_process_enabled':
        if args:
            v = args[0]
            fc.master = 'on' if (v is not None and s(v) not in ('', '0')) else 'off'
    elif fn == 'workers':
        if args:
            fc.workers = int(num(args[0]))
    elif fn == 'worker_connections':
        if args:
            fc.worker_connections = int(num(args[0]))
    elif fn == 'log_level':
        if args:
            fc.log_level = s(args[0])
    elif fn == 'no_root_location':
        fc.no_root_location = True
    elif fn == 'check_accum_error_log':
        fc.check_accum = True
    elif fn == 'env_to_nginx':
        if not args:
            raise PerlError('env_to_nginx: no arguments specified')
        for v in args:
            v = s(v)
            if not re.match(r'[A-Za-z_]', v) or '\n' in v:
                raise PerlError('env_to_nginx: bad argument value: %s' % v)
            fc.env_to_nginx.append(v)
    elif fn == 'timeout':
        if args:
            fc.timeout = float(num(args[0]))
    elif fn == 'config_preamble':
        if args:
            fc.config_preamble = s(args[0])
    # no_shuffle, no_long_string, no_diff, run_tests: nothing to do


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------

def proc_stat(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            data = f.read()
    except (IOError, OSError):
        return None
    r = data.rfind(')')
    fields = data[r + 2:].split()
    # state ppid pgrp session
    return {'state': fields[0], 'ppid': int(fields[1]), 'pgrp': int(fields[2]),
            'session': int(fields[3]), 'comm': data[data.find('(') + 1:r]}


def is_running(pid):
    try:
        os.kill(pid, 0)
    except OSError as e:
        if e.errno == errno.ESRCH:
            return False
    st = proc_stat(pid)
    if st is not None and st['state'] in ('Z', 'X'):
        try:
            os.waitpid(pid, os.WNOHANG)
        except OSError:
            pass
        return False
    return True


def session_members(sid):
    pids = []
    try:
        names = os.listdir('/proc')
    except OSError:
        return pids
    for n in names:
        if not n.isdigit():
            continue
        st = proc_stat(int(n))
        if st and st['session'] == sid and st['state'] not in ('Z', 'X'):
            pids.append(int(n))
    return pids


def port_listening(port):
    """True if some socket listens on TCP `port` (reads /proc/net/tcp*);
    None if that cannot be determined."""
    found = False
    readable = False
    for fn in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(fn) as f:
                lines = f.readlines()[1:]
        except (IOError, OSError):
            continue
        readable = True
        for line in lines:
            parts = line.split()
            if len(parts) < 4:
                continue
            local, st = parts[1], parts[3]
            if st == '0A' and int(local.rsplit(':', 1)[1], 16) == port:
                found = True
    return found if readable else None


class ValgrindMode(object):
    """TEST_NGINX_USE_VALGRIND: the valgrind command line and where its reports go."""

    # Test::Nginx::Util's options when TEST_NGINX_USE_VALGRIND is a number.
    DEFAULT_OPTS = ['--tool=memcheck', '--leak-check=full', '--keep-debuginfo=yes',
                    '--show-possibly-lost=no']

    def __init__(self, value, env):
        self.value = value
        self.numeric = re.match(r'^\d+\n?$', value) is not None
        self.exit_on_first = bool(env.get('TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR')) and \
            env.get('TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR') != '0'
        self.log = env.get('TEST_NGINX_VALGRIND_LOG') or None
        self.start_timeout = float(env.get('TEST_NGINX_VALGRIND_START_TIMEOUT') or 60)
        self.stop_timeout = float(env.get('TEST_NGINX_VALGRIND_STOP_TIMEOUT') or 120)
        self.supps = []
        if self.numeric and os.path.isfile('valgrind.suppress'):
            self.supps.append(os.path.abspath('valgrind.suppress'))
        for f in (env.get('TEST_NGINX_VALGRIND_SUPPRESSIONS') or '').split(':'):
            if f.strip():
                self.supps.append(os.path.abspath(f.strip()))
        self.dir = tempfile.mkdtemp(prefix='tnginx-valgrind-')
        self.starts = 0

    @staticmethod
    def from_env(env):
        v = env.get('TEST_NGINX_USE_VALGRIND')
        if not v or v == '0':  # Perl truth
            return None
        return ValgrindMode(v, env)

    def options(self):
        if self.numeric:
            opts = ['--num-callers=100', '-q'] + self.DEFAULT_OPTS
            if self.exit_on_first:
                opts += ['--exit-on-first-error=yes', '--error-exitcode=1']
            opts.append('--gen-suppressions=all')
        else:
            opts = ['-q'] + shlex.split(self.value)
        return opts + ['--suppressions=' + f for f in self.supps]

    def command(self, nginx_cmd):
        """The command for one nginx run; its reports go to files numbered self.starts."""
        self.starts += 1
        log = os.path.join(self.dir, 'vg.%d.%%p.log' % self.starts)
        return ['valgrind'] + self.options() + ['--log-file=' + log] + nginx_cmd

    def collect(self, start_no):
        """Reads and removes the report files of nginx run `start_no`: [(pid, text)]."""
        out = []
        prefix = 'vg.%d.' % start_no
        for fn in sorted(os.listdir(self.dir)):
            if not (fn.startswith(prefix) and fn.endswith('.log')):
                continue
            path = os.path.join(self.dir, fn)
            with open(path, 'rb') as f:
                text = from_bytes(f.read())
            os.unlink(path)
            if text.strip():
                out.append((fn[len(prefix):-len('.log')], text))
        return out

    def publish(self, reports, label):
        """Hands the reports to the user; returns one warning line per report."""
        warns = []
        for pid, text in reports:
            if not text.endswith('\n'):
                text += '\n'
            chunk = '=== tnginx-valgrind: %s (pid %s)\n%s' % (label, pid, text)
            if self.log:
                with open(self.log, 'ab') as f:
                    f.write(to_bytes(chunk))
                where = self.log
            else:
                sys.stdout.flush()
                sys.stderr.write(chunk)
                sys.stderr.flush()
                where = 'stderr'
            warns.append('valgrind wrote %d line(s) for nginx pid %s (see %s)'
                         % (text.count('\n'), pid, where))
        return warns

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Nginx(object):
    def __init__(self, g):
        self.g = g
        self.pid = None
        self.sids = set()
        # valgrind mode: nginx runs in the foreground as our child
        self.proc = None
        self.start_no = 0
        self.errpath = None
        self.label = ''
        self.vg_sids = set()

    @property
    def pidfile(self):
        return os.path.join(self.g.servroot, 'logs', 'nginx.pid')

    def read_pidfile(self):
        try:
            with open(self.pidfile) as f:
                t = f.read().strip()
            return int(t) if t.isdigit() else None
        except (IOError, OSError):
            return None

    def running(self):
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and is_running(self.pid)

    def kill_stale(self, notes):
        """Like Test::Nginx: a running nginx from the pid file is stopped."""
        pid = self.read_pidfile()
        if pid and is_running(pid):
            try:
                with open('/proc/%d/cmdline' % pid, 'rb') as f:
                    cmd = f.read().replace(b'\0', b' ').decode('latin-1')
            except (IOError, OSError):
                cmd = ''
            if 'nginx' in cmd and self.g.servroot in cmd:
                notes.append('stopping a stale nginx (pid %d) found in %s' % (pid, self.pidfile))
                self.pid = pid
                self.sids.add(pid)
                self.stop(notes)

    def start(self, notes):
        """Returns None on success, else a list of failure lines."""
        g = self.g
        port = g.server_port
        if port_listening(port):
            return ['cannot start nginx: TCP port %d is already in use by another process' % port]
        cmd = [g.binary, '-e', g.errlog, '-p', g.servroot + '/', '-c', g.conffile]
        env = dict(os.environ)
        if env.get('TEST_NGINX_LD_PRELOAD'):
            env['LD_PRELOAD'] = (env['TEST_NGINX_LD_PRELOAD'] + ' ' + env.get('LD_PRELOAD', '')).strip()
        if g.valgrind:
            return self.start_valgrind(cmd, env, notes)
        deadline = time.time() + 5
        attempt = 0
        while True:
            attempt += 1
            with tempfile.TemporaryFile() as errf:
                try:
                    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=errf, env=env, timeout=15)
                    rc = p.returncode
                except OSError as e:
                    return ['cannot execute %s: %s' % (' '.join(cmd), e)]
                except subprocess.TimeoutExpired:
                    rc = 'timeout'
                errf.seek(0)
                stderr = errf.read().decode('utf-8', 'replace')
            if rc == 0:
                break
            log = read_file_tail(g.errlog, 4000)
            if 'Address already in use' in stderr + log and time.time() < deadline:
                time.sleep(min(0.1 * attempt, 1))
                continue
            out = ['nginx failed to start (exit status %s): %s' % (rc, ' '.join(cmd))]
            out += ['stderr: ' + l for l in stderr.splitlines()[-20:]]
            out += tail_lines('error.log', log)
            return out
        if g.verbose and stderr.strip():
            notes.append('nginx start stderr: ' + stderr.strip())
        while time.time() < deadline:
            pid = self.read_pidfile()
            if pid and is_running(pid):
                self.pid = pid
                self.sids.add(pid)
                break
            time.sleep(0.01)
        else:
            return (['nginx started but no live pid in %s within 5 s' % self.pidfile]
                    + ['stderr: ' + l for l in stderr.splitlines()[-20:]]
                    + tail_lines('error.log', read_file_tail(g.errlog, 4000)))
        while time.time() < deadline + 0.01:
            lis = port_listening(port)
            if lis is None or lis:
                return None
            if not is_running(self.pid):
                break
            time.sleep(0.01)
        return (['nginx (pid %d) is not listening on port %d within 5 s' % (self.pid, port)]
                + tail_lines('error.log', read_file_tail(g.errlog, 4000)))

    def start_valgrind(self, nginx_cmd, env, notes):
        """Starts nginx (daemon off) under valgrind as our child, in its own session."""
        g = self.g
        vg = g.valgrind
        port = g.server_port
        deadline = time.time() + vg.start_timeout
        attempt = 0
        while True:
            attempt += 1
            cmd = vg.command(nginx_cmd)
            self.start_no = vg.starts
            self.errpath = os.path.join(vg.dir, 'stderr.%d' % vg.starts)
            with open(self.errpath, 'wb') as errf:
                try:
                    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=errf, env=env,
                                            start_new_session=True)
                except OSError as e:
                    return ['cannot execute %s: %s' % (' '.join(cmd), e)]
            self.proc = proc
            self.pid = proc.pid
            self.sids.add(proc.pid)
            self.vg_sids.add(proc.pid)
            while time.time() < deadline and proc.poll() is None:
                if self.read_pidfile() == proc.pid and port_listening(port) is not False:
                    return None
                time.sleep(0.05)
            if proc.poll() is None:
                out = ['nginx under valgrind (pid %d) is not listening on port %d within %g s '
                       '(TEST_NGINX_VALGRIND_START_TIMEOUT)' % (proc.pid, port, vg.start_timeout)]
                out += tail_lines('error.log', read_file_tail(g.errlog, 4000))
                self.stop(notes, fast=True)
                return out
            stderr = read_file_tail(self.errpath, 4000)
            log = read_file_tail(g.errlog, 4000)
            self.stop(notes)
            if 'Address already in use' in stderr + log and time.time() < deadline:
                time.sleep(min(0.1 * attempt, 1))
                continue
            out = ['nginx failed to start under valgrind (exit status %s): %s'
                   % (proc.returncode, ' '.join(cmd))]
            out += ['stderr: ' + l for l in stderr.splitlines()[-20:]]
            out += tail_lines('error.log', log)
            return out

    def stop_valgrind(self, notes, fast):
        """Stops our foreground nginx, waits for valgrind's exit report, publishes it."""
        vg = self.g.valgrind
        proc = self.proc
        pid = proc.pid
        self.proc = None
        self.pid = None
        sig = signal.SIGTERM if (fast or os.environ.get('TEST_NGINX_FAST_SHUTDOWN')) \
            else signal.SIGQUIT
        wait_max = 2.0 if fast else vg.stop_timeout
        killed = False
        if proc.poll() is None:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
            try:
                proc.wait(timeout=wait_max)
            except subprocess.TimeoutExpired:
                killed = True
                notes.append('nginx under valgrind (pid %d) did not exit within %g s after %s; '
                             'killed with SIGKILL (its valgrind leak report is lost)'
                             % (pid, wait_max, 'SIGTERM' if sig == signal.SIGTERM else 'SIGQUIT'))
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        rc = proc.returncode
        if not killed and rc not in (0, None):
            notes.append('nginx under valgrind (pid %d) exited with %s'
                         % (pid, ('signal %d' % -rc) if rc < 0 else ('status %d' % rc)))
        self.reap_session(pid, notes)
        try:
            if os.path.exists(self.pidfile) and self.read_pidfile() == pid:
                os.unlink(self.pidfile)
        except OSError:
            pass
        err = read_file_tail(self.errpath, 1 << 20) if self.errpath else ''
        if err.strip():
            sys.stdout.flush()
            sys.stderr.write('=== tnginx-valgrind: nginx stderr, %s (pid %d)\n%s%s'
                             % (self.label, pid, err, '' if err.endswith('\n') else '\n'))
            sys.stderr.flush()
        notes.extend(vg.publish(vg.collect(self.start_no), self.label))

    def stop(self, notes, wait_max=10.0, fast=False):
        if self.proc is not None:
            return self.stop_valgrind(notes, fast)
        pid = self.pid
        self.pid = None
        if not pid:
            return
        self.sids.add(pid)
        if fast:
            wait_max = min(wait_max, 1.0)
        sig = signal.SIGTERM if (fast or os.environ.get('TEST_NGINX_FAST_SHUTDOWN')) \
            else signal.SIGQUIT
        if is_running(pid):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
            t0 = time.time()
            while is_running(pid) and time.time() - t0 < wait_max:
                time.sleep(0.01)
            if is_running(pid):
                notes.append('nginx (pid %d) did not exit within %g s after %s; killed with SIGKILL'
                             % (pid, wait_max, 'SIGTERM' if sig == signal.SIGTERM else 'SIGQUIT'))
        self.reap_session(pid, notes)
        try:
            if os.path.exists(self.pidfile) and self.read_pidfile() == pid:
                os.unlink(self.pidfile)
        except OSError:
            pass

    def reap_session(self, sid, notes):
        # A session we made for valgrind holds only nginx (named after the valgrind
        # tool, e.g. memcheck-amd64-) and what nginx started.
        ours = sid in self.vg_sids
        for _ in range(50):
            members = [p for p in session_members(sid)
                       if ours or (proc_stat(p) or {}).get('comm', '').startswith('nginx')]
            if not members:
                self.sids.discard(sid)
                self.vg_sids.discard(sid)
                return
            for p in members:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            if notes is not None and _ == 0:
                notes.append('killed leftover nginx process(es) %s with SIGKILL' % members)
            time.sleep(0.02)

    def cleanup_all(self):
        if self.pid:
            try:
                self.stop([], fast=True)
            except Exception:
                pass
        for sid in list(self.sids):
            self.reap_session(sid, None)


def read_file_tail(path, nbytes):
    try:
        with open(path, 'rb') as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - nbytes))
            return from_bytes(f.read())
    except (IOError, OSError):
        return ''


def tail_lines(label, text, n=20):
    lines = split_keep_lines(text)
    if not lines:
        return ['%s: (empty)' % label]
    lines = lines[-n:]
    return ['%s (last %d lines):' % (label, len(lines))] + ['  ' + show_line(l) for l in lines]


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

class Response(object):
    def __init__(self):
        self.code = None
        self.headers = []
        self.content = ''

    def header(self, key):
        k = key.replace('_', '-').lower()
        vals = [v for (n, v) in self.headers if n.lower() == k]
        return ', '.join(vals) if vals else None


def http_response_parse(raw):
    """HTTP::Response->parse"""
    res = Response()
    m = re.match(r'(.*)\n', raw)
    if m:
        status_line = m.group(1)
        s = raw[m.end():]
    else:
        status_line = raw
        s = ''
    status_line = re.sub(r'\r\Z', '', status_line)
    hdrs = []
    while True:
        m = re.match(r'([^\s:]+)[ \t]*: ?(.*)\n?', s, A)
        if m:
            hdrs.append([m.group(1), re.sub(r'\r\Z', '', m.group(2))])
            s = s[m.end():]
            continue
        m = re.match(r'([ \t].*)\n?', s) if hdrs else None
        if m:
            hdrs[-1][1] = re.sub(r'\r\Z', '', hdrs[-1][1] + '\n' + m.group(1))
            s = s[m.end():]
            continue
        s = re.sub(r'\r?\n', '', s, count=1)
        break
    res.headers = [tuple(h) for h in hdrs]
    res.content = s
    if re.match(r'\d{3} ', status_line):
        parts = status_line.split(None, 1)
        code = parts[0]
    else:
        parts = status_line.split(None, 2)
        code = parts[1] if len(parts) > 1 else None
    res.code = code
    return res


def parse_response(raw, head_req, fails, warns):
    """Test::Nginx::Socket::parse_response -> (res, raw_headers, left)."""
    raw_headers = ''
    m = re.match(r'(.*?\r\n)\r\n', raw, re.S)
    if m:
        raw_headers = m.group(1)
    res = http_response_parse(raw)
    code = res.code
    if code and not re.match(r'^\d+$', code):
        res.code = code = None
    if code and int(code) in (304, 101):
        return res, raw_headers, None
    enc = res.header('Transfer-Encoding')
    length = res.header('Content-Length')
    trailers = [v for (n, v) in res.headers if n.lower() == 'trailer']
    left = None
    if enc is not None and enc == 'chunked':
        r = res.content
        pos = 0
        decoded = []
        while True:
            if not trailers:
                mm = re.compile(r'0[ \t]*\r\n\r\n').match(r, pos)
                if mm:
                    pos = mm.end()
                    if r[pos:]:
                        left = r[pos:]
                    break
            else:
                mm = re.compile(r'0[ \t]*\r\n').match(r, pos)
                if mm:
                    pos = mm.end()
                    for t in trailers:
                        m2 = re.compile(re.escape(t) + r': [^\n]*\r\n', re.S).match(r, pos)
                        if not m2:
                            fails.append('invalid trailer data received (expected %s).' % t)
                            return None, None, None
                        pos = m2.end()
                    if r[pos:pos + 2] != '\r\n':
                        fails.append('invalid chunked data received (expected CRLF).')
                        return None, None, None
                    pos += 2
                    if r[pos:]:
                        left = r[pos:]
                    break
            mm = re.compile(r'[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n').match(r, pos)
            if mm:
                size = int(mm.group(1), 16)
                pos = mm.end()
                if len(r) - pos < size:
                    fails.append('invalid chunked data received (not enough octets for the data '
                                 'section)')
                    return None, None, None
                decoded.append(r[pos:pos + size])
                pos += size
                if r[pos:pos + 2] != '\r\n':
                    fails.append('invalid chunked data received (expected CRLF).')
                    return None, None, None
                pos += 2
            elif pos < len(r):
                fails.append('invalid chunked body received: %s' % show(r[pos:], 200))
                return None, None, None
            else:
                fails.append('no last chunk found - %s' % show(r, 200))
                return None, None, None
        res.content = ''.join(decoded)
    elif length is not None and length != '':
        try:
            ln = PerlCtx.to_num(length)
        except PerlError:
            ln = 0
        if ln >= 0:
            ln = int(ln)
            if len(res.content) < ln:
                if not head_req:
                    warns.append('response body truncated: %d expected, but got %d'
                                 % (ln, len(res.content)))
            elif len(res.content) > ln:
                left = res.content[ln:]
                res.content = res.content[:ln]
    return res, raw_headers, left


def send_request(g, data, timeout, block, fails, warns, verbose):
    """Returns (raw response string, timed_out)."""
    addr = '127.0.0.1'
    port = g.client_port
    sock = None
    t0 = time.time()
    last_err = None
    while True:
        try:
            sock = socket.create_connection((addr, port), timeout=timeout)
            break
        except (socket.timeout, OSError) as e:
            last_err = e
            if time.time() - t0 > 2:
                fails.append("Can't connect to %s:%d: %s (aborted)" % (addr, port, last_err))
                return '', False
            time.sleep(0.05)
    sock.setblocking(False)
    wbuf = to_bytes(data)
    woff = 0
    resp = bytearray()
    want_write = True
    timed_out = False
    shut = block.values.get('shutdown')
    try:
        while True:
            rl = [sock]
            wl = [sock] if want_write else []
            r, w, _ = select.select(rl, wl, [], timeout)
            if not r and not w:
                timed_out = True
                break
            if w:
                try:
                    woff += sock.send(wbuf[woff:woff + 65536])
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as e:
                    warns.append('write failed: %s' % e)
                    if not resp:
                        resp = bytearray(('write failed: %s' % e).encode())
                    break
                if woff >= len(wbuf):
                    want_write = False
                    if shut is not None:
                        how = PerlCtx.to_str(shut).strip()
                        how = int(how) if how.isdigit() else 1
                        try:
                            sock.shutdown(how)
                        except OSError:
                            pass
            if r:
                try:
                    chunk = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as e:
                    warns.append('HTTP response read failure: %s' % e)
                    break
                if not chunk:
                    break
                resp += chunk
    finally:
        sock.close()
    if timed_out:
        if 'abort' in block.values:
            time.sleep(0.005)
        else:
            fails.append('ERROR: client socket timed out (after %g s without activity)' % timeout)
    return from_bytes(bytes(resp)), timed_out


# ---------------------------------------------------------------------------
# the runner
# ---------------------------------------------------------------------------

class Result(object):
    def __init__(self):
        self.fails = []
        self.warns = []
        self.notes = []
        self.skip = None

    def fail(self, msg):
        self.fails.append(msg)


def get_indexed(value, idx, need_array, what):
    if need_array:
        if isinstance(value, ArrayRef):
            return value[idx] if idx < len(value) else None
        raise BlockError('You asked for many requests, the expected results should be arrays '
                         'as well (--- %s; real Test::Nginx bails out)' % what)
    if isinstance(value, ArrayRef):
        return value[0] if value else None
    return value


def normalize_pats(v):
    if v is None:
        return None
    if isinstance(v, Regex):
        return [v]
    if isinstance(v, ArrayRef):
        return list(v)
    s = chomp(PerlCtx.to_str(v))
    return perl_split(r'\n+', s)


def pat_matches(line, pat):
    if isinstance(pat, Regex):
        return pat.search(line) is not None
    return PerlCtx.to_str(pat) in line


def value_contains(val, needle):
    if val is None:
        return False
    if isinstance(val, ArrayRef):
        return any(value_contains(v, needle) for v in val)
    try:
        return needle in PerlCtx.to_str(val)
    except PerlError:
        return False


def fmt_pat(p):
    return repr(p) if isinstance(p, Regex) else show(PerlCtx.to_str(p), 200)


def body_diff(expected, got, limit=40):
    if len(expected) + len(got) > 65536 or expected.count('\n') + got.count('\n') > 2000:
        # too big for difflib: show where they start to differ
        n = min(len(expected), len(got))
        i = 0
        while i < n and expected[i] == got[i]:
            i += 1
        lo = max(0, i - 40)
        return ['lengths: expected %d bytes, got %d bytes; first difference at byte %d'
                % (len(expected), len(got), i),
                'expected[%d:]: %s' % (lo, show(expected[lo:lo + 120], 200)),
                'got[%d:]:      %s' % (lo, show(got[lo:lo + 120], 200))]
    el = split_keep_lines(expected)
    gl = split_keep_lines(got)
    out = []
    for d in difflib.unified_diff(el, gl, 'expected', 'got', n=2, lineterm=''):
        if d.startswith(('---', '+++', '@@')):
            out.append(d.rstrip('\n'))
        else:
            out.append(d[0] + escape(d[1:], 200))
        if len(out) >= limit:
            out.append('... (diff truncated)')
            break
    return out


class Runner(object):
    def __init__(self, verbose=False):
        self.verbose = verbose
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.counter = 0
        env = os.environ
        self.binary = env.get('TEST_NGINX_BINARY') or shutil.which('nginx') or '/usr/sbin/nginx'
        self.server_port = int(env.get('TEST_NGINX_SERVER_PORT') or env.get('TEST_NGINX_PORT') or 1984)
        self.client_port = int(env.get('TEST_NGINX_CLIENT_PORT') or self.server_port)
        self.servroot = os.path.abspath(env.get('TEST_NGINX_SERVROOT') or os.path.join('t', 'servroot'))
        self.errlog = os.path.join(self.servroot, 'logs', 'error.log')
        self.acclog = os.path.join(self.servroot, 'logs', 'access.log')
        self.conffile = os.path.join(self.servroot, 'conf', 'nginx.conf')
        self.sleep = float(env.get('TEST_NGINX_SLEEP') or 0.015)
        self.nginx = Nginx(self)
        self.nginx_version = None
        self.nginx_V = ''
        for v in ('USE_HUP', 'USE_STAP', 'CHECK_LEAK', 'BENCHMARK', 'RANDOMIZE',
                  'USE_HTTP2', 'USE_HTTP3', 'USE_RR', 'NO_NGINX_MANAGER'):
            if env.get('TEST_NGINX_' + v):
                self.out('# WARNING: TEST_NGINX_%s is set, but that mode is not implemented by '
                         'tnginx.py; running in the normal mode' % v)
        self.valgrind = ValgrindMode.from_env(env)
        if self.valgrind:
            self.out('# TEST_NGINX_USE_VALGRIND: nginx runs as: valgrind %s --log-file=... nginx'
                     % ' '.join(self.valgrind.options()))

    def out(self, line=''):
        sys.stdout.write(line + '\n')
        sys.stdout.flush()

    def detect_nginx(self):
        if self.nginx_version is not None:
            return True
        try:
            p = subprocess.run([self.binary, '-V'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.nginx_V = 'cannot run %s -V: %s' % (self.binary, e)
            return False
        self.nginx_V = p.stdout.decode('utf-8', 'replace')
        m = re.search(r'(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)', self.nginx_V) or \
            re.search(r'\w+/(\d+)\.(\d+)\.(\d+)', self.nginx_V)
        if p.returncode != 0 or not m:
            return False
        self.nginx_version = tuple(int(x) for x in m.groups())
        return True

    # -- server root & config ---------------------------------------------------
    def setup_server_root(self, notes):
        sr = self.servroot
        if os.path.isdir(sr):
            for d in ['conf', 'cache', 'html', 'logs'] + \
                    [os.path.basename(x) for x in os.listdir(sr)
                     if x.endswith('_temp') or x.endswith('_cache')]:
                p = os.path.join(sr, d)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
            left = os.listdir(sr)
            if left:
                notes.append('servroot %s still contains %s (Test::Nginx would bail out: '
                             '"Can\'t remove ... (not empty?)")' % (sr, sorted(left)))
        os.makedirs(os.path.join(sr, 'logs'), exist_ok=True)
        os.makedirs(os.path.join(sr, 'html'), exist_ok=True)
        os.makedirs(os.path.join(sr, 'conf'), exist_ok=True)
        with open(os.path.join(sr, 'html', 'index.html'), 'w') as f:
            f.write('<html><head><title>It works!</title></head><body>It works!</body></html>')

    def expand_env(self, text, what):
        if text is None:
            return None
        if not isinstance(text, str):
            return text

        def rep(m):
            name = m.group(1)
            if re.match(r'^TEST_NGINX_RAND_PORT_[0-9]+$', name):
                raise BlockError('%s: $%s is not supported by tnginx.py' % (what, name))
            if name not in os.environ:
                raise BlockError('%s: No environment %s defined (real Test::Nginx bails out)'
                                 % (what, name))
            return os.environ[name]
        return re.sub(r'\$(TEST_NGINX_[_A-Z0-9]+)', rep, text)

    def write_config(self, block, fc, config):
        sr = self.servroot
        http_config = self.expand_env(PerlCtx.to_str(block.values.get('http_config')), 'http_config')
        if fc.lua_module and fc.init_by_lua:
            http_config = init_by_lua_filter(http_config, fc.init_by_lua)
        main_config = PerlCtx.to_str(block.values.get('main_config'))
        mods = fc.load_modules
        if mods:
            main_config = ' '.join(['load_module %s;' % x for x in mods] + [main_config])
        main_config = self.expand_env(main_config, 'main_config')
        post_main = self.expand_env(PerlCtx.to_str(block.values.get('post_main_config')),
                                    'post_main_config')
        log_level = PerlCtx.to_str(block.values.get('log_level')).strip() or fc.log_level
        server_name = PerlCtx.to_str(block.values.get('server_name')) if block.has('server_name') \
            else 'localhost'
        V = self.nginx_V
        temp = {
            'client_body': 'client_body_temp_path %s/client_body_temp;' % sr,
            'proxy': 'proxy_temp_path %s/proxy_temp;' % sr,
            'fastcgi': 'fastcgi_temp_path %s/fastcgi_temp;' % sr,
            'scgi': 'scgi_temp_path %s/scgi_temp;' % sr,
            'uwsgi': 'uwsgi_temp_path %s/uwsgi_temp;' % sr,
        }
        for k in ('fastcgi', 'scgi', 'uwsgi'):
            if '--without-http_%s_module' % k in V:
                temp[k] = ''
        if re.search(r'\bproxy_temp_path\b', http_config):
            temp['proxy'] = ''
        if re.search(r'\bclient_body_temp_path\b', http_config):
            temp['client_body'] = ''
        c = []
        c.append('worker_processes  %d;\n' % fc.workers)
        c.append('daemon %s;\n' % ('off' if self.valgrind else 'on'))
        c.append('master_process %s;\n' % fc.master)
        c.append('error_log %s %s;\n' % (self.errlog, log_level))
        c.append('pid       %s;\n' % os.path.join(sr, 'logs', 'nginx.pid'))
        for e in ('MOCKEAGAIN_VERBOSE', 'MOCKEAGAIN', 'MOCKEAGAIN_WRITE_TIMEOUT_PATTERN',
                  'LD_PRELOAD', 'LD_LIBRARY_PATH', 'DYLD_INSERT_LIBRARIES',
                  'DYLD_FORCE_FLAT_NAMESPACE'):
            c.append('env %s;\n' % e)
        for v in fc.env_to_nginx:
            c.append('env %s;\n' % ("'%s'" % v if re.search(r'\s', v) else v))
        c.append('#env LUA_PATH;\n#env LUA_CPATH;\n\n%s\n\nhttp {\n' % main_config)
        c.append('    access_log %s; %s %s %s %s %s\n' % (self.acclog, temp['client_body'],
                                                          temp['proxy'], temp['fastcgi'],
                                                          temp['scgi'], temp['uwsgi']))
        c.append('    #access_log off;\n\n    default_type text/plain;\n'
                 '    keepalive_timeout  68000ms;\n\n')
        c.append('%s\n' % http_config)
        c.append('    server {\n        listen          %d;\n' % self.server_port)
        c.append('        #placeholder\n')
        c.append("        server_name     '%s';\n" % server_name)
        c.append('        \n        client_max_body_size 30M;\n'
                 '        #client_body_buffer_size 4k;\n\n')
        c.append('        # Begin preamble config...\n%s\n        # End preamble config...\n\n'
                 % fc.config_preamble)
        c.append('        # Begin test case config...\n%s\n        # End test case config.\n\n'
                 % config)
        if not fc.no_root_location:
            c.append('        location / {\n            root %s;\n'
                     '            index index.html index.htm;\n        }\n'
                     % os.path.join(sr, 'html'))
        c.append('    }\n')
        c.append('}\n\n%s\n\n#timer_resolution 100ms;\n\nevents {\n    accept_mutex off;\n\n'
                 '    worker_connections  %d;\n' % (post_main, fc.worker_connections))
        if fc.event_type:
            c.append('    use %s;\n' % fc.event_type)
        c.append('}\n')
        c.append('env ASAN_OPTIONS;\nenv MOCKNOEAGAIN_VERBOSE;\nenv MOCKNOEAGAIN;\n')
        if fc.worker_user:
            c.append('user %s;\n' % fc.worker_user)
        elif hasattr(os, 'geteuid') and os.geteuid() == 0:
            c.append('user root;\n')
        with open(self.conffile, 'wb') as f:
            f.write(to_bytes(''.join(c)))

    # -- error.log --------------------------------------------------------------
    def error_log_data(self, st):
        time.sleep(self.sleep * 3)
        try:
            with open(self.errlog, 'rb') as f:
                if not st['accum'] and st['pos'] > 0:
                    f.seek(st['pos'])
                data = f.read()
                if not st['accum']:
                    st['pos'] = f.tell()
        except (IOError, OSError):
            return []
        return split_keep_lines(from_bytes(data))

    def check_log_pats(self, lines, pats_val, must, label, res, where='error.log'):
        pats = normalize_pats(pats_val)
        if pats is None:
            return
        if must:
            remaining = list(pats)
            for line in lines:
                for k, p in enumerate(remaining):
                    if p is not None and pat_matches(line, p):
                        remaining[k] = None
            for p in remaining:
                if p is not None:
                    res.fail('%spattern %s should match a line in %s' % (label, fmt_pat(p), where))
        else:
            found = set()
            for line in lines:
                for k, p in enumerate(pats):
                    if p is not None and k not in found and pat_matches(line, p):
                        found.add(k)
                        res.fail('%spattern %s should not match any line in %s but matches line %s'
                                 % (label, fmt_pat(p), where, show(chomp(line), 300)))

    def check_error_log(self, block, st, rep, res, label):
        lines = self.error_log_data(st)
        v = block.values
        grep = v.get('grep_error_log')
        grep_out = v.get('grep_error_log_out')
        if grep is None and grep_out is not None:
            raise BlockError('No --- grep_error_log defined but --- grep_error_log_out is defined')
        if grep is not None:
            pat = grep[rep] if isinstance(grep, ArrayRef) and rep < len(grep) else \
                (None if isinstance(grep, ArrayRef) else grep)
            if pat is not None:
                if grep_out is None:
                    raise BlockError('No --- grep_error_log_out defined but --- grep_error_log '
                                     'is defined')
                exp = self.expand_env(grep_out, 'grep_error_log_out') \
                    if isinstance(grep_out, str) else grep_out
                if isinstance(exp, ArrayRef):
                    exp = exp[rep] if rep < len(exp) else None
                matched = []
                for line in lines:
                    mt = None
                    if isinstance(pat, Regex):
                        m = pat.search(line)
                        if m:
                            mt = m.group(0)
                    else:
                        ps = PerlCtx.to_str(pat)
                        if ps in line:
                            mt = ps
                    if mt is not None and '\n' not in mt:
                        matched.append(mt + '\n')
                got = ''.join(matched)
                if isinstance(exp, Regex):
                    if not exp.search(got):
                        res.fail('%sgrep_error_log_out: %s does not match %r'
                                 % (label, show(got), exp))
                elif got != PerlCtx.to_str(exp) or exp is None:
                    res.fail('%sgrep_error_log_out: expected %s, got %s'
                             % (label, show(None if exp is None else PerlCtx.to_str(exp)), show(got)))
        for key, must in (('error_log', True), ('no_error_log', False)):
            if v.get(key) is None:
                continue
            if not isinstance(v[key], (ArrayRef, Regex)) and 'eval' not in block.raw[key][0]:
                for p in normalize_pats(v[key]):
                    if re.match(r'^qr[/{(|!]', PerlCtx.to_str(p)):
                        res.warns.append('--- %s line %s is a literal substring here (as in '
                                         'Test::Nginx); use "--- %s eval" with [qr/.../] for a '
                                         'regex' % (key, show(p), key))
            self.check_log_pats(lines, v[key], must, label, res)
        pv = [v.get('error_log'), v.get('no_error_log')]
        for tag, needle in (('writing a global lua variable', 'writing a global lua variable'),
                            ('[alert]', '[alert'), ('[crit]', '[crit'), ('[emerg]', '[emerg')):
            if any(value_contains(x, needle) for x in pv):
                continue
            rx = re.escape(tag)
            for line in lines:
                if re.search(rx, line):
                    res.warns.append('%s%s' % (label, show_line(line)))
        for line in lines:
            if re.search(r'\bAssertion .*?failed\b', line):
                res.fail('%s%s' % (label, show_line(line)))

    def check_access_log(self, block, res, label):
        v = block.values
        if v.get('access_log') is None and v.get('no_access_log') is None:
            return
        time.sleep(self.sleep * 3)
        try:
            with open(self.acclog, 'rb') as f:
                lines = split_keep_lines(from_bytes(f.read()))
        except (IOError, OSError) as e:
            raise BlockError('cannot read access.log: %s' % e)
        self.check_log_pats(lines, v.get('access_log'), True, label, res, 'access.log')
        self.check_log_pats(lines, v.get('no_access_log'), False, label, res, 'access.log')

    # -- requests -----------------------------------------------------------------
    def build_requests(self, block, res):
        v = block.values
        more = v.get('more_headers')
        if more is None:
            more = ''

        def hdr_for(i):
            src = more
            if isinstance(more, ArrayRef):
                src = more[i] if i < len(more) else None
                if src is None:
                    raise BlockError('--- more_headers lacks data for request %d' % i)
            return parse_more_headers(PerlCtx.to_str(src))

        pip = v.get('pipelined_requests')
        if pip:
            if not isinstance(pip, ArrayRef):
                raise BlockError('invalid entries in --- pipelined_requests (use '
                                 '"--- pipelined_requests eval" with an array)')
            parts = []
            for i, r in enumerate(pip):
                r = self.expand_env(PerlCtx.to_str(r), 'pipelined_requests')
                hdr, chunked = hdr_for(i)
                conn = 'close' if i == len(pip) - 1 else 'keep-alive'
                parts.append(build_request(r, hdr, chunked, conn))
            return [''.join(parts)], True, len(pip)
        req = v.get('request')
        if req is None:
            raise BlockError('no --- request section (Test::Nginx: "Request line should be '
                             'non-empty")')
        if isinstance(req, ArrayRef):
            out = []
            for i, one in enumerate(req):
                if isinstance(one, (ArrayRef, PList)):
                    raise BlockError('requests split into packets (nested arrays in --- request '
                                     'eval) are not supported')
                hdr, chunked = hdr_for(i)
                out.append(build_request(PerlCtx.to_str(one), hdr, chunked, 'close'))
            if not out:
                raise BlockError('request empty')
            return out, len(out) > 1, 0
        if isinstance(req, Regex):
            raise BlockError('invalid --- request: MUST be string or array of requests')
        req = PerlCtx.to_str(req)
        while True:
            new = re.sub(r'\A(?:\s*#[^\n]+\s+|\s+)', '', req, count=1, flags=A)
            if new == req:
                break
            req = new
        if '$TEST_NGINX_' in req:
            res.warns.append('--- request contains $TEST_NGINX_...; Test::Nginx does not expand '
                             'variables in requests (sent as is)')
        hdr, chunked = hdr_for(0)
        return [build_request(req, hdr, chunked, 'close')], False, 0

    def check_one_response(self, block, res_obj, raw_headers, req_idx, need_array, res, label):
        v = block.values
        code = (res_obj.code if res_obj else None) or ''
        if v.get('error_code_like') is not None:
            pat = get_indexed(v['error_code_like'], req_idx, need_array, 'error_code_like')
            rx = pat if isinstance(pat, Regex) else Regex(PerlCtx.to_str(pat), 'sm')
            if not rx.search(code):
                res.fail('%sstatus code: %s does not match %r' % (label, show(code), rx))
        else:
            if v.get('error_code') is not None:
                exp = get_indexed(v['error_code'], req_idx, need_array, 'error_code')
                exp = None if exp is None else PerlCtx.to_str(exp)
            else:
                exp = '200'
            if exp != code:
                hint = ''
                if exp is not None and exp.strip() == code:
                    hint = (' (Test::Nginx compares the exact section text; write '
                            '"--- error_code: %s")' % code)
                res.fail('%sstatus code: expected %s, got %s%s' % (label, show(exp), show(code), hint))
        for key, flags, neg in (('raw_response_headers_like', 's', False),
                                ('raw_response_headers_unlike', 's', True)):
            if v.get(key) is not None:
                pat = get_indexed(v[key], req_idx, need_array, key)
                rx = pat if isinstance(pat, Regex) else Regex(PerlCtx.to_str(pat), flags)
                hit = rx.search(raw_headers or '') is not None
                if hit == neg:
                    res.fail('%s%s: raw headers %s %r' % (label, key, show(raw_headers), rx))
        if v.get('response_headers') is not None or v.get('response_headers_like') is not None:
            like = v.get('response_headers') is None
            key = 'response_headers_like' if like else 'response_headers'
            spec = PerlCtx.to_str(get_indexed(v[key], req_idx, need_array, key))
            for name, val in parse_headers(spec):
                if val is None and not like:
                    if re.search(r'^\s*' + re.escape(name) + r'\s*:', raw_headers or '', re.M | re.S):
                        res.fail('%sheader %s should not be present' % (label, name))
                    continue
                actual = res_obj.header(name) if res_obj else None
                if actual is None:
                    actual = ''
                if like:
                    rx = Regex('^%s$' % (val or ''), '')
                    if not rx.search(actual):
                        res.fail('%sheader %s: %s does not match /^%s$/' % (label, name, show(actual), val))
                else:
                    val = val.replace('$ServerPortForClient', str(self.client_port))
                    val = re.sub(r'\$ServerPort\b', str(self.server_port), val)
                    if actual != val:
                        res.fail('%sheader %s: expected %s, got %s' % (label, name, show(val), show(actual)))
        content = res_obj.content if res_obj else None
        if content is not None:
            content = re.sub(r'^TE: deflate,gzip;q=0\.3\r\n', '', content, flags=re.M)
            content = re.sub(r'^Connection: TE, close\r\n', '', content, flags=re.M)
        if v.get('response_body') is not None:
            exp = get_indexed(v['response_body'], req_idx, need_array, 'response_body')
            if exp is not None and not isinstance(exp, (Regex, ArrayRef)):
                exp = PerlCtx.to_str(exp)
                exp = exp.replace('$ServerPortForClient', str(self.client_port))
                exp = re.sub(r'\$ServerPort\b', str(self.server_port), exp)
                exp = self.expand_env(exp, 'response_body')
            if isinstance(exp, ArrayRef):
                raise BlockError('nested arrays in --- response_body are not supported')
            if isinstance(exp, Regex):
                if content is None or not exp.search(content):
                    res.fail('%sresponse_body: %s does not match %r' % (label, show(content), exp))
            elif content != exp:
                res.fail('%sresponse_body: expected %s, got %s' % (label, show(exp), show(content)))
                if exp is not None and content is not None:
                    for d in body_diff(exp, content):
                        res.fail('    ' + d)
        elif v.get('response_body_like') is not None or v.get('response_body_unlike') is not None:
            key = 'response_body_like' if v.get('response_body_like') is not None \
                else 'response_body_unlike'
            pat = get_indexed(v[key], req_idx, need_array, key)
            if isinstance(pat, Regex):
                rx = pat
            else:
                ps = PerlCtx.to_str(pat)
                ps = ps.replace('$ServerPortForClient', str(self.client_port))
                ps = re.sub(r'\$ServerPort\b', str(self.server_port), ps)
                rx = Regex(ps, 's')
            hit = content is not None and rx.search(content) is not None
            if key == 'response_body_like' and not hit:
                res.fail('%sresponse_body_like: %s does not match %r' % (label, show(content), rx))
            elif key == 'response_body_unlike' and (hit or content is None):
                res.fail('%sresponse_body_unlike: %s matches %r' % (label, show(content), rx))

    def run_test_helper(self, block, fc, st, rep, res):
        v = block.values
        reqs, need_array, npipe = self.build_requests(block, res)
        timeout = parse_time(v.get('timeout'))
        if timeout is None:
            timeout = fc.timeout
        many = need_array or fc.repeat_each > 1
        wait = parse_time(v.get('wait')) if v.get('wait') else None
        req_idx = 0
        for ri, data in enumerate(reqs):
            label = ('[repeat %d, req %d] ' % (rep, req_idx)) if many else ''
            head = bool(re.match(r'\s*HEAD\s+', data))
            if self.verbose:
                res.notes.append('%srequest: %s' % (label, show(data, 2000)))
            sfails, swarns = [], []
            raw, timed_out = send_request(self, data, timeout, block, sfails, swarns,
                                          self.verbose)
            res.fails.extend(label + x for x in sfails)
            res.warns.extend(label + x for x in swarns)
            if self.verbose:
                res.notes.append('%sraw response%s: %s' % (label, ' (timed out)' if timed_out else '',
                                                           show(raw, 2000)))
            n = npipe
            while True:
                label = ('[repeat %d, req %d] ' % (rep, req_idx)) if many else ''
                left = None
                if 'ignore_response' not in v:
                    fails = []
                    r, raw_headers, left = parse_response(raw, head, fails, res.warns)
                    for f in fails:
                        res.fail(label + f)
                    if not n and left:
                        res.warns.append('%sunexpected extra bytes after last chunk in response: %s'
                                         % (label, show(left, 200)))
                    self.check_one_response(block, r, raw_headers, req_idx, need_array, res, label)
                if n:
                    raw = left or ''
                    n -= 1
                if n or ri < len(reqs) - 1:
                    if wait:
                        time.sleep(wait)
                    self.check_error_log(block, st, rep, res, label)
                    if 'ignore_response' not in v:
                        self.check_access_log(block, res, label)
                req_idx += 1
                if not n:
                    break
        if wait:
            time.sleep(wait)
        label = ('[repeat %d] ' % rep) if fc.repeat_each > 1 else ''
        self.check_error_log(block, st, rep, res, label)
        if 'ignore_response' not in v:
            self.check_access_log(block, res, label)

    # -- blocks & files -----------------------------------------------------------
    def report(self, fname, block, res):
        self.counter += 1
        title = '%s %s' % (fname, block.name)
        if res.skip is not None:
            self.skipped += 1
            self.out('ok %d - %s # SKIP %s' % (self.counter, title, res.skip))
        elif res.fails:
            self.failed += 1
            self.out('not ok %d - %s' % (self.counter, title))
        else:
            self.passed += 1
            self.out('ok %d - %s' % (self.counter, title))
        for f in res.fails:
            self.out('    ' + f)
        for w in res.warns:
            self.out('    # WARNING: ' + w)
        for n in res.notes:
            self.out('    # ' + n)

    def skip_nginx(self, spec):
        m = re.match(r'^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$',
                     PerlCtx.to_str(spec), re.S)
        if not m:
            raise BlockError('Invalid --- skip_nginx spec: %s' % show(PerlCtx.to_str(spec)))
        op = m.group(2)
        ver = tuple(int(x) for x in m.group(3, 4, 5))
        reason = m.group(6) or 'nginx version %s %s' % (op, '.'.join(m.group(3, 4, 5)))
        cur = self.nginx_version
        hit = {'<': cur < ver, '<=': cur <= ver, '>': cur > ver, '>=': cur >= ver}[op]
        return reason if hit else None

    def run_file(self, path, ctx):
        fname = path
        self.cur_file = fname
        text = from_bytes(open(path, 'rb').read())
        m = re.search(r'^__DATA__[ \t]*\r?\n?', text, re.M)
        fc = FileConf(self)
        if not m:
            res = Result()
            res.fail('no __DATA__ section found in %s' % path)
            b = Block('(file)', 0)
            self.report(fname, b, res)
            return
        preamble, data = text[:m.start()], text[m.end():]
        os.environ['TEST_NGINX_SERVER_ROOT'] = self.servroot
        parse_preamble(preamble, fc, ctx, self.servroot, self.server_port)
        os.environ.setdefault('TEST_NGINX_SERVER_PORT', str(self.server_port))
        for w in fc.warnings:
            self.out('# WARNING: %s: %s' % (fname, w))
        blocks = parse_blocks(data, ctx)
        if not blocks:
            res = Result()
            res.fail('no test blocks (=== TEST ...) found')
            self.report(fname, Block('(file)', 0), res)
            return
        chosen = []
        only = [b for b in blocks if 'ONLY' in b.values]
        not_run = 0
        if only:
            chosen = [only[0]]
            not_run = len(blocks) - 1
            self.out('# WARNING: %s: found --- ONLY in %s; running only that block'
                     % (fname, only[0].name))
        else:
            for b in blocks:
                if 'SKIP' in b.values:
                    chosen.append(b)
                    continue
                chosen.append(b)
                if 'LAST' in b.values:
                    break
            not_run = len(blocks) - len(chosen)
        if not_run:
            self.out('# %s: %d block(s) not run because of ONLY/LAST (counted as skipped)'
                     % (fname, not_run))
            self.skipped += not_run
        st = {'pos': 0, 'accum': fc.check_accum, 'prev_config': None}
        runnable = [b for b in chosen if 'SKIP' not in b.values]
        try:
            for b in chosen:
                if 'SKIP' in b.values:
                    res = Result()
                    res.skip = '--- SKIP'
                    self.report(fname, b, res)
                    continue
                k = runnable.index(b)
                nxt = runnable[k + 1] if k + 1 < len(runnable) else None
                res = Result()
                if fc.fatal:
                    for f in fc.fatal:
                        res.fail(f)
                elif fc.skip_all is not None:
                    res.skip = 'skip_all: %s' % fc.skip_all
                else:
                    self.run_block(b, nxt, fc, st, res)
                self.report(fname, b, res)
        finally:
            interrupted = isinstance(sys.exc_info()[1], KeyboardInterrupt)
            if not os.environ.get('TEST_NGINX_NO_CLEAN') or interrupted:
                notes = []
                self.nginx.stop(notes, fast=interrupted)
                for n in notes:
                    self.out('# WARNING: %s' % n)

    interrupted = False

    def run_block(self, block, nxt, fc, st, res):
        res.warns.extend(block.warnings)
        if block.errors:
            for e in block.errors:
                res.fail(e)
            return
        v = block.values
        try:
            if v.get('skip_nginx') is not None:
                reason = self.skip_nginx(v['skip_nginx'])
                if reason:
                    res.skip = reason
                    return
            config = v.get('config')
            st['log_valid'] = False
            if config is None:
                if st['prev_config'] is None:
                    raise BlockError("No '--- config' section specified and could not get "
                                     "previous one")
                if not self.nginx.running():
                    res.warns.append('no --- config: reusing the previous nginx, which is not '
                                     'running')
                st['log_valid'] = True
            else:
                config = self.expand_env(PerlCtx.to_str(config), 'config')
                if fc.force_restart or config != st['prev_config'] or not self.nginx.running():
                    notes = []
                    self.nginx.stop(notes)
                    self.nginx.kill_stale(notes)
                    res.warns.extend(notes)
                    self.setup_server_root(res.warns)
                    self.write_config(block, fc, config)
                    if self.verbose:
                        res.notes.append('config: %s' % self.conffile)
                    notes = []
                    self.nginx.label = '%s %s' % (getattr(self, 'cur_file', ''), block.name)
                    err = self.nginx.start(notes)
                    res.warns.extend(notes)
                    if err:
                        for e in err:
                            res.fail(e)
                        st['prev_config'] = None
                        return
                    time.sleep(self.sleep)
                st['log_valid'] = True
                st['prev_config'] = config
            st['pos'] = 0
            for rep in range(max(fc.repeat_each, 1)):
                self.run_test_helper(block, fc, st, rep, res)
        except BlockError as e:
            res.fail(str(e))
        except PerlError as e:
            res.fail('Perl: %s' % e)
        shutdown_checks = v.get('shutdown_error_log') is not None or \
            v.get('no_shutdown_error_log') is not None
        next_restarts = nxt is not None and nxt.values.get('config') is not None
        # Test::Nginx stops nginx after every block in valgrind mode.
        if shutdown_checks or nxt is None or next_restarts or self.valgrind:
            if nxt is None and os.environ.get('TEST_NGINX_NO_CLEAN') and not shutdown_checks:
                pass
            else:
                notes = []
                self.nginx.stop(notes)
                res.warns.extend(notes)
            if shutdown_checks:
                lines = self.error_log_data(st)
                if os.environ.get('TEST_NGINX_NO_CLEAN'):
                    res.warns.append('shutdown_error_log checks skipped (TEST_NGINX_NO_CLEAN)')
                else:
                    self.check_log_pats(lines, v.get('shutdown_error_log'), True,
                                        '[shutdown] ', res)
                    self.check_log_pats(lines, v.get('no_shutdown_error_log'), False,
                                        '[shutdown] ', res)
        if (res.fails or self.verbose) and st.get('log_valid'):
            try:
                with open(self.errlog, 'rb') as f:
                    log = from_bytes(f.read())
            except (IOError, OSError):
                log = ''
            lines = split_keep_lines(log)
            n = 20 if not self.verbose else 60
            shown = lines[-n:]
            target = res.fails if res.fails else res.notes
            target.append('error.log of this block (%d lines, last %d shown):'
                          % (len(lines), len(shown)))
            for l in shown:
                target.append('  | ' + show_line(l))


def parse_more_headers(s):
    out = []
    chunked = False
    for h in perl_split(r'\n+', s):
        if re.match(r'\s*#', h):
            continue
        kv = re.split(r':\s*', h, maxsplit=1)
        key = kv[0]
        val = kv[1] if len(kv) > 1 else ''
        if key.lower() == 'transfer-encoding' and val == 'chunked':
            chunked = True
        out.append('%s: %s\r\n' % (key, val))
    return ''.join(out), chunked


def build_request(req, hdr, chunked, conn):
    nl = req.find('\n')
    first, rest = (req, '') if nl < 0 else (req[:nl + 1], req[nl + 1:])
    if not first:
        raise BlockError('Request line should be non-empty')
    m = re.fullmatch(r'(\s*)(\S+)( *)((\S+)( *))?((\S+)( *))?(\s*)', first, A)
    if not m:
        raise BlockError("Request line is not valid. Should be 'meth [url [version]]' but got %s"
                         % show(first))
    meth = m.group(2)
    url = m.group(5) if m.group(5) is not None else '/'
    ver = m.group(8) if m.group(8) is not None else 'HTTP/1.1'
    content = rest
    len_header = ''
    if not chunked and content != '' and not re.search(r'(?:^|\n)Content-Length:', hdr):
        content = content.strip(PERL_WS)
        len_header = 'Content-Length: %d\r\n' % len(content)
    hdr = re.sub(r'(?<!\r)\n', '\r\n', hdr)
    headers = ''
    if not re.search(r'(?:^|\n)Host:', hdr, re.I | re.M):
        headers += 'Host: localhost\r\n'
    if not re.search(r'(?:^|\n)Connection', hdr, re.I | re.M):
        headers += 'Connection: %s\r\n' % conn
    headers += hdr + len_header + '\r\n'
    return '%s %s %s\r\n%s%s' % (meth, url, ver, headers, content)


def parse_headers(s):
    """Test::Nginx::Util::parse_headers -> list of (name, value-or-None)."""
    d = {}
    for line in split_keep_lines(s):
        line = line.strip(PERL_WS)
        neg = False
        if line.startswith('!'):
            neg = True
            line = line[1:].lstrip(PERL_WS)
        if neg:
            d[line] = None
        else:
            kv = re.split(r'\s*:\s*', line, maxsplit=1, flags=A)
            d[kv[0]] = kv[1] if len(kv) > 1 else None
    return list(d.items())


def init_by_lua_filter(config, code):
    """Test::Nginx::Socket::Lua's TEST_NGINX_INIT_BY_LUA handling."""
    if 'init_by_lua_file' in config:
        return config
    esc = code.replace('\\', '\\\\')
    esc = re.sub(r'([\'"])', r'\\\1', esc)
    rx = re.compile(r'(?<!#  )(?<!# )(?<!#)init_by_lua\s*([\'"])((?:\\.|.)*)\1\s*;', re.S)
    m = rx.search(config)
    if m:
        return config[:m.start()] + 'init_by_lua %s%s%s%s;' % (m.group(1), esc, m.group(2),
                                                              m.group(1)) + config[m.end():]
    rx = re.compile(r'(?<!#  )(?<!# )(?<!#)init_by_lua_block\s*\{', re.S)
    m = rx.search(config)
    if m:
        return config[:m.start()] + 'init_by_lua_block { %s ' % code + config[m.end():]
    return config + "init_by_lua '%s';" % esc


def collect_files(args):
    files = []
    for a in args:
        if os.path.isdir(a):
            files.extend(sorted(os.path.join(a, f) for f in os.listdir(a) if f.endswith('.t')))
        else:
            files.append(a)
    return files


def main(argv):
    verbose = False
    paths = []
    for a in argv:
        if a in ('-v', '--verbose'):
            verbose = True
        elif a in ('-h', '--help'):
            print(__doc__)
            return 0
        elif a == '--deviations':
            print(DEVIATIONS)
            return 0
        else:
            paths.append(a)
    runner = Runner(verbose)

    got_signal = []

    def on_term(signum, frame):
        got_signal.append(signum)
        raise KeyboardInterrupt()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, on_term)
        except (ValueError, OSError):
            pass

    files = collect_files(paths)
    rc = 0
    try:
        if not files:
            runner.out('# no .t files given')
        elif not runner.detect_nginx():
            runner.out('not ok - cannot use nginx binary %s: %s' % (runner.binary,
                                                                   runner.nginx_V.strip()[:500]))
            runner.failed += 1
        else:
            for f in files:
                if not os.path.isfile(f):
                    runner.counter += 1
                    runner.failed += 1
                    runner.out('not ok %d - %s: no such file' % (runner.counter, f))
                    continue
                saved_env = dict(os.environ)
                try:
                    runner.run_file(f, PerlCtx())
                finally:
                    os.environ.clear()
                    os.environ.update(saved_env)
    except KeyboardInterrupt:
        runner.interrupted = True
        runner.out('# interrupted; nginx stopped')
        rc = 128 + (got_signal[0] if got_signal else signal.SIGINT)
    finally:
        if runner.interrupted or not os.environ.get('TEST_NGINX_NO_CLEAN'):
            runner.nginx.cleanup_all()
        elif runner.nginx.running():
            runner.out('# TEST_NGINX_NO_CLEAN: nginx (pid %d) left running' % runner.nginx.pid)
        if runner.valgrind and not runner.nginx.running():
            runner.valgrind.cleanup()
    summary = '%d passed, %d failed' % (runner.passed, runner.failed)
    if runner.skipped:
        summary += ', %d skipped' % runner.skipped
    runner.out(summary)
    if rc:
        return rc
    return 0 if (runner.failed == 0 and runner.passed > 0) else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
