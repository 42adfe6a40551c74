"""t/030-python.t: resty_ffi.serve with blocking handlers on two threads."""

import threading

import resty_ffi


def handle(req):
    cmd, _, arg = req.partition(b" ")
    if cmd == b"echo":
        return arg
    if cmd == b"raise":
        raise KeyError(arg.decode())
    if cmd == b"thread":
        return threading.current_thread().name.split("-")[0]
    raise resty_ffi.Error("unknown command", rc=22)


def init(cfg, tq):
    resty_ffi.serve(tq, handle, threads=2, name="sync")
    # None means success too (the original loader wanted an int).
