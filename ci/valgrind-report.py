#!/usr/bin/env python3
"""valgrind-report.py - sorts the valgrind reports of a ci/valgrind.sh run.

Usage: python3 ci/valgrind-report.py VALGRIND_LOG [REPO_ROOT [LIB_DIR]]

VALGRIND_LOG is what tools/tnginx writes with TEST_NGINX_VALGRIND_LOG: valgrind's
own output, in sections headed `=== tnginx-valgrind: FILE BLOCK (pid N)`.

Every report (an error or a leak record) is attributed to resty-ffi when any frame
of any of its stacks (where it happened, where the block was allocated or freed)
may be in the module or a runtime. A frame counts as resty-ffi's when it names
  * objects ngx_http_resty_ffi_module.so, libffi_*.so, libresty_ffi*.so, or any
    object under LIB_DIR;
  * source files under REPO_ROOT (valgrind --fullpath-after= prints full paths);
  * functions ngx_http_resty_ffi_*, ngx_http_lua_ffi_task_poll/get_req/respond,
    libffi_init, and Rust symbols of the module, SDK, loader and runtime crates;
and also, since a runtime may live anywhere and valgrind names no object for a
frame that has line info, when it is not provably someone else's: an object
outside /usr and /lib, or an absolute source path outside /usr (Rust's /rustc/
and cargo's registry included: nginx, LuaJIT and libc have no Rust in them).
Frames in objects under /usr or /lib (nginx, its modules, LuaJIT, libc, libpython,
libnode, ...), distro source paths (relative, as Debian builds them) and JIT code
(`???` without an object) are someone else's. Reports without a frame of ours
(nginx, LuaJIT, libc noise that ci/valgrind.supp does not cover) are listed too,
but do not fail the run.

Prints a summary and each distinct stack once (with the blocks where it
appeared). Exit status: 1 if any error or "definitely lost" record is attributed
to resty-ffi, or valgrind stopped showing errors (its error limit: then nothing
can be said); 0 otherwise; 2 on bad usage or a missing log.
"""

import collections
import os
import re
import sys

HEADER = re.compile(r'^=== tnginx-valgrind: (.*) \(pid (\d+)\)$')
LINE = re.compile(r'^==(\d+)== ?(.*)$')
FRAME = re.compile(r'^\s*(?:at|by) 0x[0-9A-Fa-f]+: (.*)$')
THREAD = re.compile(r'^Thread \d+(?: [^:]*)?:$')   # "Thread 3:" or "Thread 3 tokio-rt:"
LEAK = re.compile(r'([\d,]+)(?: \(([\d,]+) direct, ([\d,]+) indirect\))? bytes in [\d,]+ blocks? '
                  r'are definitely lost')
# Lines valgrind prints that are not error records (with -q there are few).
NOT_A_RECORD = re.compile(r'^(Warning: |WARNING: |HEAP SUMMARY|LEAK SUMMARY|ERROR SUMMARY|'
                          r'For lists of|For counts of|Memcheck, |Copyright|Using Valgrind|'
                          r'Command: |Parent PID: |\s*(?:in use at exit|total heap usage|'
                          r'definitely lost:|indirectly lost:|possibly lost:|still reachable:|'
                          r'suppressed:|Rerun with|Reachable blocks|To see them)|'
                          r'More than \d+ errors detected\. Subsequent errors will still)')
# valgrind's error limits (--error-limit=yes): after this, errors are no longer shown.
GAVE_UP = re.compile(r"I'm not reporting any more|will not be shown|not showing any more")


OBJECT = re.compile(r'\(in ([^()]+)\)$')            # "fn (in /usr/sbin/nginx)"
SOURCE = re.compile(r'\(([^()]+):\d+\)$')            # "fn (/work/main/src/abi.rs:206)"
SYSTEM_PATH = re.compile(r'^/(?:usr|lib|lib64)/')


def ours_matcher(repo_root, lib_dir):
    pats = [
        r'ngx_http_resty_ffi_module\.so',
        r'/libffi_[^/\s)]*\.so',
        r'/libresty_ffi[^/\s)]*\.so',
        r'\bngx_http_resty_ffi_\w+',
        r'\bngx_http_lua_ffi_(?:task_poll|get_req|respond)\b',
        r'\blibffi_init\b',
        r'ngx_http_resty_ffi_module::',
        r'_ZN25ngx_http_resty_ffi_module',
        # Rust crates of the SDK, the loaders and the runtimes (their frames often show a
        # source file but no object).
        r'\b(?:resty_ffi_sdk|resty_ffi_python|resty_ffi_java|resty_ffi_nodejs|ffi_java|'
        r'ffi_nodejs|ffi_test|ffi_sdk_test|ffi_echo|ffi_argon2)::',
    ]
    for d in (repo_root, lib_dir):
        if d:
            pats.append(re.escape(d.rstrip('/') + '/'))
    rx = re.compile('|'.join(pats))

    def is_ours(frame):
        if rx.search(frame):
            return True
        m = OBJECT.search(frame)
        if m:
            return not SYSTEM_PATH.match(m.group(1))
        m = SOURCE.search(frame)
        if m:
            path = m.group(1)
            return path.startswith('/') and not SYSTEM_PATH.match(path)
        return False  # `???`: JIT code (LuaJIT, V8, the JVM)
    return is_ours


class Report(object):
    def __init__(self, where, pid, first):
        self.where = where
        self.pid = pid
        self.first = first          # "Invalid read of size 8", "... definitely lost ..."
        self.lines = [first]
        self.frames = []

    @property
    def leak(self):
        return LEAK.search(self.first)

    def kind(self):
        if self.leak:
            return 'definitely lost'
        return re.sub(r'\d+', 'N', self.first)

    def lost_bytes(self):
        m = self.leak
        if not m:
            return 0
        return int(m.group(1).replace(',', ''))

    def signature(self):
        """Kind plus the first functions of the stack (not where they were built, not
        the allocator's own frames), to group repeats."""
        names = []
        for f in self.frames:
            if '/library/alloc/' in f or '/library/core/' in f or 'vgpreload_' in f:
                continue
            names.append(re.sub(r' \((?:in )?[^()]*\)$', '', f))
        return (self.kind(), tuple(names[:8]))


def parse(path):
    """Returns (reports, lines where valgrind stopped showing errors)."""
    reports = []
    gave_up = []
    where, cur, in_supp = '(before any block header)', None, False
    with open(path, 'rb') as fh:
        for raw in fh:
            line = raw.decode('utf-8', 'replace').rstrip('\n')
            h = HEADER.match(line)
            if h:
                where, cur, in_supp = h.group(1), None, False
                continue
            if in_supp:
                if line.startswith('}'):
                    in_supp = False
                continue
            if line.startswith('{'):
                in_supp, cur = True, None
                continue
            m = LINE.match(line)
            if not m:
                continue
            pid, text = m.group(1), m.group(2)
            if GAVE_UP.search(text):
                gave_up.append('%s (pid %s): %s' % (where, pid, text.strip()))
                cur = None
                continue
            if not text.strip():
                cur = None
                continue
            if cur is None:
                if NOT_A_RECORD.match(text) or THREAD.match(text):
                    continue
                cur = Report(where, pid, text.strip())
                reports.append(cur)
                continue
            cur.lines.append(text)
            fm = FRAME.match(text)
            if fm:
                cur.frames.append(fm.group(1))
    return reports, gave_up


def short_stack(rep, is_ours, limit=40):
    out = []
    for l in rep.lines[:limit]:
        mark = '>' if (FRAME.match(l) and is_ours(FRAME.match(l).group(1))) else ' '
        out.append('    %s %s' % (mark, l))
    if len(rep.lines) > limit:
        out.append('      ... (%d more lines)' % (len(rep.lines) - limit))
    return out


def main(argv):
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__)
        return 2
    log = argv[0]
    repo_root = argv[1] if len(argv) > 1 else ''
    lib_dir = argv[2] if len(argv) > 2 else ''
    is_ours = ours_matcher(repo_root, lib_dir)
    if not os.path.exists(log):
        print('valgrind report: %s does not exist' % log)
        return 2
    reports, gave_up = parse(log)

    groups = collections.OrderedDict()
    other = collections.OrderedDict()
    for r in reports:
        attributed = any(is_ours(f) for f in r.frames)
        target = groups if attributed else other
        key = r.signature()
        target.setdefault(key, []).append(r)

    def count(g, leak):
        n = sum(len(v) for k, v in g.items() if (k[0] == 'definitely lost') == leak)
        b = sum(r.lost_bytes() for v in g.values() for r in v) if leak else 0
        return n, b

    err_n, _ = count(groups, False)
    leak_n, leak_b = count(groups, True)
    oerr_n, _ = count(other, False)
    oleak_n, oleak_b = count(other, True)
    blocks = {r.where for r in reports}

    print('valgrind report: %s' % log)
    print('  %-58s %d' % ('errors from the module or a runtime:', err_n))
    print('  %-58s %d (%d bytes)' % ('"definitely lost" records from the module or a runtime:',
                                     leak_n, leak_b))
    print('  %-58s %d errors, %d leaks (%d bytes)' % ('not attributed (nginx, LuaJIT, libc):',
                                                      oerr_n, oleak_n, oleak_b))
    print('  %-58s %d' % ('blocks with any valgrind output:', len(blocks)))
    for g in gave_up:
        print('  VALGRIND STOPPED SHOWING ERRORS in %s' % g)
    for title, g in (('ATTRIBUTED TO RESTY-FFI', groups), ('NOT ATTRIBUTED', other)):
        if not g:
            continue
        print('')
        print('%s: %d distinct stack(s)' % (title, len(g)))
        for i, (key, reps) in enumerate(g.items(), 1):
            wheres = sorted({r.where for r in reps})
            print('')
            print('[%d] %s - %d time(s) in %d block(s)' % (i, key[0], len(reps), len(wheres)))
            for w in wheres[:8]:
                print('      in %s' % w)
            if len(wheres) > 8:
                print('      ... and %d more block(s)' % (len(wheres) - 8))
            print('    example (pid %s, frames in resty-ffi marked >):' % reps[0].pid)
            for l in short_stack(reps[0], is_ours):
                print(l)
    return 1 if (err_n or leak_n or gave_up) else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
