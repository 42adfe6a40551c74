"""Byte strings as latin-1 text: printable forms, Perl-like line and field
splitting, file tails."""

import re

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
