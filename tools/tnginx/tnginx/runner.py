"""Runs the blocks of .t files against nginx: restarts, requests, checks."""

import os
import re
import shutil
import subprocess
import sys
import time

from .blocks import Block, parse_blocks
from .checks import (check_access_log, check_error_log, check_log_pats, check_one_response,
                     error_log_data)
from .client import build_requests, parse_response, send_request
from .config import expand_env, write_config
from .errors import BlockError, PerlError
from .perl import PerlCtx
from .preamble import FileConf, parse_preamble
from .report import Report, Result
from .server import Nginx, setup_server_root
from .text import from_bytes, show, show_line, split_keep_lines
from .valgrind import ValgrindMode


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


class Runner(object):
    def __init__(self, verbose=False):
        self.verbose = verbose
        self.rep = Report()
        self.interrupted = False
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
                self.rep.out('# WARNING: TEST_NGINX_%s is set, but that mode is not implemented by '
                         'tnginx.py; running in the normal mode' % v)
        self.valgrind = ValgrindMode.from_env(env)
        if self.valgrind:
            self.rep.out('# TEST_NGINX_USE_VALGRIND: nginx runs as: valgrind %s --log-file=... nginx'
                     % ' '.join(self.valgrind.options()))

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

    def run_test_helper(self, block, fc, st, rep, res):
        v = block.values
        reqs, need_array, npipe = build_requests(block, res)
        timeout = parse_time(v.get('timeout'))
        if timeout is None:
            timeout = fc.timeout
        many = need_array or fc.repeat_each > 1
        wait = parse_time(v.get('wait')) if v.get('wait') else None
        req_idx = 0

        def req_label():
            return ('[repeat %d, req %d] ' % (rep, req_idx)) if many else ''

        def check_logs(label):
            if wait:
                time.sleep(wait)
            check_error_log(self, block, st, rep, res, label)
            if 'ignore_response' not in v:
                check_access_log(self, block, res, label)

        for ri, data in enumerate(reqs):
            label = req_label()
            head = bool(re.match(r'\s*HEAD\s+', data))
            if self.verbose:
                res.notes.append('%srequest: %s' % (label, show(data, 2000)))
            sfails, swarns = [], []
            raw, timed_out = send_request(self, data, timeout, block, sfails, swarns)
            res.fails.extend(label + x for x in sfails)
            res.warns.extend(label + x for x in swarns)
            if self.verbose:
                res.notes.append('%sraw response%s: %s' % (label, ' (timed out)' if timed_out else '',
                                                           show(raw, 2000)))
            n = npipe
            while True:
                label = req_label()
                left = None
                if 'ignore_response' not in v:
                    fails = []
                    r, raw_headers, left = parse_response(raw, head, fails, res.warns)
                    for f in fails:
                        res.fail(label + f)
                    if not n and left:
                        res.warns.append('%sunexpected extra bytes after last chunk in response: %s'
                                         % (label, show(left, 200)))
                    check_one_response(self, block, r, raw_headers, req_idx, need_array, res, label)
                if n:
                    raw = left or ''
                    n -= 1
                if n or ri < len(reqs) - 1:
                    check_logs(label)
                req_idx += 1
                if not n:
                    break
        check_logs(('[repeat %d] ' % rep) if fc.repeat_each > 1 else '')

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
        fc = FileConf()
        if not m:
            res = Result()
            res.fail('no __DATA__ section found in %s' % path)
            b = Block('(file)', 0)
            self.rep.block(fname, b, res)
            return
        preamble, data = text[:m.start()], text[m.end():]
        os.environ['TEST_NGINX_SERVER_ROOT'] = self.servroot
        parse_preamble(preamble, fc, ctx, self.servroot, self.server_port)
        os.environ.setdefault('TEST_NGINX_SERVER_PORT', str(self.server_port))
        for w in fc.warnings:
            self.rep.out('# WARNING: %s: %s' % (fname, w))
        blocks = parse_blocks(data, ctx)
        # Test::Nginx runs the preprocessors in the reverse order of their adding.
        for mod in reversed(fc.defaults_modules):
            for b in blocks:
                added = mod.apply(b, ctx.our)
                if added and self.verbose:
                    b.notes.append('from %s: %s' % (mod.name, ', '.join(added)))
        if not blocks:
            res = Result()
            res.fail('no test blocks (=== TEST ...) found')
            self.rep.block(fname, Block('(file)', 0), res)
            return
        chosen = []
        only = [b for b in blocks if 'ONLY' in b.values]
        not_run = 0
        if only:
            chosen = [only[0]]
            not_run = len(blocks) - 1
            self.rep.out('# WARNING: %s: found --- ONLY in %s; running only that block'
                     % (fname, only[0].name))
        else:
            for b in blocks:
                chosen.append(b)
                if 'SKIP' not in b.values and 'LAST' in b.values:
                    break
            not_run = len(blocks) - len(chosen)
        if not_run:
            self.rep.out('# %s: %d block(s) not run because of ONLY/LAST (counted as skipped)'
                     % (fname, not_run))
            self.rep.skipped += not_run
        st = {'pos': 0, 'accum': fc.check_accum, 'prev_config': None}
        runnable = [b for b in chosen if 'SKIP' not in b.values]
        try:
            for b in chosen:
                if 'SKIP' in b.values:
                    res = Result()
                    res.skip = '--- SKIP'
                    self.rep.block(fname, b, res)
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
                self.rep.block(fname, b, res)
        finally:
            interrupted = isinstance(sys.exc_info()[1], KeyboardInterrupt)
            if not os.environ.get('TEST_NGINX_NO_CLEAN') or interrupted:
                notes = []
                self.nginx.stop(notes, fast=interrupted)
                for n in notes:
                    self.rep.out('# WARNING: %s' % n)

    def run_block(self, block, nxt, fc, st, res):
        res.warns.extend(block.warnings)
        res.notes.extend(block.notes)
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
                config = expand_env(PerlCtx.to_str(config), 'config')
                if fc.force_restart or config != st['prev_config'] or not self.nginx.running():
                    notes = []
                    self.nginx.stop(notes)
                    self.nginx.kill_stale(notes)
                    res.warns.extend(notes)
                    setup_server_root(self.servroot, res.warns)
                    write_config(self, block, fc, config)
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
                lines = error_log_data(self, st)
                if os.environ.get('TEST_NGINX_NO_CLEAN'):
                    res.warns.append('shutdown_error_log checks skipped (TEST_NGINX_NO_CLEAN)')
                else:
                    check_log_pats(lines, v.get('shutdown_error_log'), True,
                                        '[shutdown] ', res)
                    check_log_pats(lines, v.get('no_shutdown_error_log'), False,
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
