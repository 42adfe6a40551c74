"""The nginx under test: its server root, starting and stopping it (also under
valgrind), leftover processes."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from .procs import is_running, port_listening, proc_stat, session_members
from .text import read_file_tail, tail_lines


def stop_signal(fast):
    """SIGTERM (fast shutdown) or SIGQUIT (graceful)."""
    return signal.SIGTERM if (fast or os.environ.get('TEST_NGINX_FAST_SHUTDOWN')) \
        else signal.SIGQUIT


def retry_start(stderr, log, deadline, attempt):
    """After a failed start: sleeps and says yes while the port is still in use (until deadline)."""
    if 'Address already in use' in stderr + log and time.time() < deadline:
        time.sleep(min(0.1 * attempt, 1))
        return True
    return False


def start_failure(msg, stderr, log):
    """The failure lines of an nginx that did not start."""
    return ([msg] + ['stderr: ' + l for l in stderr.splitlines()[-20:]]
            + tail_lines('error.log', log))


def setup_server_root(sr, notes):
    """Test::Nginx: a clean conf/, html/ (with index.html) and logs/ in the server root."""
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

    def remove_pidfile(self, pid):
        try:
            if os.path.exists(self.pidfile) and self.read_pidfile() == pid:
                os.unlink(self.pidfile)
        except OSError:
            pass

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
            if retry_start(stderr, log, deadline, attempt):
                continue
            return start_failure('nginx failed to start (exit status %s): %s'
                                 % (rc, ' '.join(cmd)), stderr, log)
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
            return start_failure('nginx started but no live pid in %s within 5 s' % self.pidfile,
                                 stderr, read_file_tail(g.errlog, 4000))
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
            if retry_start(stderr, log, deadline, attempt):
                continue
            return start_failure('nginx failed to start under valgrind (exit status %s): %s'
                                 % (proc.returncode, ' '.join(cmd)), stderr, log)

    def stop_valgrind(self, notes, fast):
        """Stops our foreground nginx, waits for valgrind's exit report, publishes it."""
        vg = self.g.valgrind
        proc = self.proc
        pid = proc.pid
        self.proc = None
        self.pid = None
        sig = stop_signal(fast)
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
                             % (pid, wait_max, signal.Signals(sig).name))
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
        self.remove_pidfile(pid)
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
        sig = stop_signal(fast)
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
                             % (pid, wait_max, signal.Signals(sig).name))
        self.reap_session(pid, notes)
        self.remove_pidfile(pid)

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
