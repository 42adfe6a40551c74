"""TEST_NGINX_USE_VALGRIND: the valgrind command line and where its reports go."""

import os
import re
import shlex
import shutil
import sys
import tempfile

from .text import from_bytes, to_bytes


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
