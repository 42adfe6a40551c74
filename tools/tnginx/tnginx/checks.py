"""The checks of a block: the response (status, headers, body) and the logs
(error_log, no_error_log, grep_error_log, access_log)."""

import difflib
import re
import time

from .config import expand_env
from .errors import BlockError, PerlError
from .perl import ArrayRef, PerlCtx
from .perlre import Regex
from .text import (A, PERL_WS, chomp, escape, from_bytes, perl_split, show, show_line,
    split_keep_lines)


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


def server_port_vars(g, s):
    """$ServerPortForClient and $ServerPort in expected values."""
    s = s.replace('$ServerPortForClient', str(g.client_port))
    return re.sub(r'\$ServerPort\b', str(g.server_port), s)


def error_log_data(g, st):
    time.sleep(g.sleep * 3)
    try:
        with open(g.errlog, 'rb') as f:
            if not st['accum'] and st['pos'] > 0:
                f.seek(st['pos'])
            data = f.read()
            if not st['accum']:
                st['pos'] = f.tell()
    except (IOError, OSError):
        return []
    return split_keep_lines(from_bytes(data))

def check_log_pats(lines, pats_val, must, label, res, where='error.log'):
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

def check_error_log(g, block, st, rep, res, label):
    lines = error_log_data(g, st)
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
            exp = expand_env(grep_out, 'grep_error_log_out') \
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
        check_log_pats(lines, v[key], must, label, res)
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

def check_access_log(g, block, res, label):
    v = block.values
    if v.get('access_log') is None and v.get('no_access_log') is None:
        return
    time.sleep(g.sleep * 3)
    try:
        with open(g.acclog, 'rb') as f:
            lines = split_keep_lines(from_bytes(f.read()))
    except (IOError, OSError) as e:
        raise BlockError('cannot read access.log: %s' % e)
    check_log_pats(lines, v.get('access_log'), True, label, res, 'access.log')
    check_log_pats(lines, v.get('no_access_log'), False, label, res, 'access.log')

def check_one_response(g, block, res_obj, raw_headers, req_idx, need_array, res, label):
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
                val = server_port_vars(g, val)
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
            exp = server_port_vars(g, exp)
            exp = expand_env(exp, 'response_body')
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
            ps = server_port_vars(g, ps)
            rx = Regex(ps, 's')
        hit = content is not None and rx.search(content) is not None
        if key == 'response_body_like' and not hit:
            res.fail('%sresponse_body_like: %s does not match %r' % (label, show(content), rx))
        elif key == 'response_body_unlike' and (hit or content is None):
            res.fail('%sresponse_body_unlike: %s matches %r' % (label, show(content), rx))
