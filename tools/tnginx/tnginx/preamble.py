"""The Perl code before __DATA__: what it sets (FileConf), read statement by
statement."""

import os
import re

from . import defaults_module
from .errors import PerlError
from .perl import PerlCtx, PerlEval, perl_eval


class FileConf(object):
    def __init__(self):
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
        self.inc_dirs = []           # `use lib` directories, then PERL5LIB (Perl's @INC order)
        self.defaults_modules = []   # `use t::TestFFI;`: see defaults_module.py
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
    m = re.match(r'use\s+lib\b(.*)$', one, re.S)
    if m:
        dirs = perl_eval(m.group(1), ctx) if m.group(1).strip() else []
        dirs = [PerlCtx.to_str(d) for d in (dirs if isinstance(dirs, list) else [dirs])]
        fc.inc_dirs[:0] = dirs
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
            _use_module(mod, fc)
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
        if fn == 'add_block_preprocessor':
            fc.fatal.append('add_block_preprocessor in the .t file: tnginx cannot run its Perl '
                            '(put the defaults in a defaults module, see --help)')
            return
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


def _use_module(name, fc):
    """`use NAME` of a module that is not Test::Nginx's: a defaults module (such as
    t/TestFFI.pm) is read; another module only gets a WARNING."""
    perl5lib = [d for d in (os.environ.get('PERL5LIB') or '').split(':') if d]
    mod, fatal = defaults_module.load(name, fc.inc_dirs + perl5lib)
    fc.fatal.extend(fatal)
    if mod is None:
        if not fatal:
            fc.warnings.append('preamble uses module %s; tnginx.py does not know what it '
                               'does (ignored)' % name)
        return
    fc.warnings.extend(mod.warnings)
    if mod.lua:
        fc.lua_module = True
    fc.defaults_modules.append(mod)


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
