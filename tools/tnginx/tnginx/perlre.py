"""Perl regexes translated to Python `re`, and qr// objects."""

import re
import warnings

from .errors import PerlError


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
