"""Processes and ports, as /proc shows them."""

import errno
import os


def proc_stat(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            data = f.read()
    except (IOError, OSError):
        return None
    r = data.rfind(')')
    fields = data[r + 2:].split()
    # state ppid pgrp session
    return {'state': fields[0], 'ppid': int(fields[1]), 'pgrp': int(fields[2]),
            'session': int(fields[3]), 'comm': data[data.find('(') + 1:r]}


def is_running(pid):
    try:
        os.kill(pid, 0)
    except OSError as e:
        if e.errno == errno.ESRCH:
            return False
    st = proc_stat(pid)
    if st is not None and st['state'] in ('Z', 'X'):
        try:
            os.waitpid(pid, os.WNOHANG)
        except OSError:
            pass
        return False
    return True


def session_members(sid):
    pids = []
    try:
        names = os.listdir('/proc')
    except OSError:
        return pids
    for n in names:
        if not n.isdigit():
            continue
        st = proc_stat(int(n))
        if st and st['session'] == sid and st['state'] not in ('Z', 'X'):
            pids.append(int(n))
    return pids


def port_listening(port):
    """True if some socket listens on TCP `port` (reads /proc/net/tcp*);
    None if that cannot be determined."""
    found = False
    readable = False
    for fn in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(fn) as f:
                lines = f.readlines()[1:]
        except (IOError, OSError):
            continue
        readable = True
        for line in lines:
            parts = line.split()
            if len(parts) < 4:
                continue
            local, st = parts[1], parts[3]
            if st == '0A' and int(local.rsplit(':', 1)[1], 16) == port:
                found = True
    return found if readable else None
