"""HTTP over raw sockets: requests built from a block, sent, and the responses
parsed (chunked decoding included)."""

import re
import select
import socket
import time

from .config import expand_env
from .errors import BlockError, PerlError
from .perl import ArrayRef, PList, PerlCtx
from .perlre import Regex
from .text import A, PERL_WS, from_bytes, perl_split, show, to_bytes


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


def send_request(g, data, timeout, block, fails, warns):
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


def build_requests(block, res):
    """The raw requests of a block -> (list of strings, need_array, pipelined count)."""
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
            r = expand_env(PerlCtx.to_str(r), 'pipelined_requests')
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
