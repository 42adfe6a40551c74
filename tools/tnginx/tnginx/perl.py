"""A tiny, restricted Perl evaluator: the `eval` sections and preamble
expressions of .t files."""

import os
import re

from .errors import PerlError
from .perlre import Regex
from .text import A, show


class ArrayRef(list):
    pass


class PList(list):
    """A parenthesised Perl list (flattens into enclosing lists)."""


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
                return Regex(pat, fm.group(0))
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
