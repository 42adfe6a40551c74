"""The command line: options, the .t files to run, signals, exit status."""

import os
import signal

from .docs import DEVIATIONS, USAGE
from .perl import PerlCtx
from .runner import Runner


def collect_files(args):
    files = []
    for a in args:
        if os.path.isdir(a):
            files.extend(sorted(os.path.join(a, f) for f in os.listdir(a) if f.endswith('.t')))
        else:
            files.append(a)
    return files


def main(argv):
    verbose = False
    paths = []
    for a in argv:
        if a in ('-v', '--verbose'):
            verbose = True
        elif a in ('-h', '--help'):
            print(USAGE)
            return 0
        elif a == '--deviations':
            print(DEVIATIONS)
            return 0
        else:
            paths.append(a)
    runner = Runner(verbose)

    got_signal = []

    def on_term(signum, frame):
        got_signal.append(signum)
        raise KeyboardInterrupt()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, on_term)
        except (ValueError, OSError):
            pass

    files = collect_files(paths)
    rc = 0
    try:
        if not files:
            runner.rep.out('# no .t files given')
        elif not runner.detect_nginx():
            runner.rep.out('not ok - cannot use nginx binary %s: %s' % (runner.binary,
                                                                   runner.nginx_V.strip()[:500]))
            runner.rep.failed += 1
        else:
            for f in files:
                if not os.path.isfile(f):
                    runner.rep.counter += 1
                    runner.rep.failed += 1
                    runner.rep.out('not ok %d - %s: no such file' % (runner.rep.counter, f))
                    continue
                saved_env = dict(os.environ)
                try:
                    runner.run_file(f, PerlCtx())
                finally:
                    os.environ.clear()
                    os.environ.update(saved_env)
    except KeyboardInterrupt:
        runner.interrupted = True
        runner.rep.out('# interrupted; nginx stopped')
        rc = 128 + (got_signal[0] if got_signal else signal.SIGINT)
    finally:
        if runner.interrupted or not os.environ.get('TEST_NGINX_NO_CLEAN'):
            runner.nginx.cleanup_all()
        elif runner.nginx.running():
            runner.rep.out('# TEST_NGINX_NO_CLEAN: nginx (pid %d) left running' % runner.nginx.pid)
        if runner.valgrind and not runner.nginx.running():
            runner.valgrind.cleanup()
    runner.rep.out(runner.rep.summary())
    if rc:
        return rc
    return 0 if (runner.rep.failed == 0 and runner.rep.passed > 0) else 1
