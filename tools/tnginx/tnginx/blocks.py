"""The test blocks of a .t file (Test::Base): sections and section filters."""

import re

from .errors import PerlError
from .perl import PerlCtx, perl_eval
from .text import A, chomp


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
        self.notes = []        # shown with -v

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
