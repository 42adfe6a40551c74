"""t/030-python.t: handlers that raise BaseException subclasses and other odd exceptions.

cfg "sync...": resty_ffi.serve on one thread; anything else: resty_ffi.serve_async.
"""

import argparse
import asyncio
import sys

import resty_ffi


class Custom(BaseException):
    pass


class BadStr(Exception):
    def __str__(self):
        raise RuntimeError("no str for you")


class BadStrBase(BaseException):
    def __str__(self):
        raise KeyboardInterrupt


def act(cmd, arg):
    if cmd == b"echo":
        return arg
    if cmd == b"exit":
        sys.exit(int(arg))
    if cmd == b"argparse":
        parser = argparse.ArgumentParser(prog="tool")
        parser.add_argument("--n", type=int)
        parser.parse_args(arg.decode().split())
        return b"parsed"
    if cmd == b"kbd":
        raise KeyboardInterrupt
    if cmd == b"genexit":
        raise GeneratorExit("closing")
    if cmd == b"custom":
        raise Custom(arg.decode())
    if cmd == b"badstr":
        raise BadStr()
    if cmd == b"badstrbase":
        raise BadStrBase()
    if cmd == b"bigrc":
        raise resty_ffi.Error("rc too big", rc=1 << 40)
    if cmd == b"cancel":
        raise asyncio.CancelledError()
    raise resty_ffi.Error("unknown command", rc=22)


def init(cfg, tq):
    mode = resty_ffi.cfg_text(cfg) or ""

    def handle(req):
        cmd, _, arg = req.partition(b" ")
        return act(cmd, arg)

    async def handle_async(req):
        cmd, _, arg = req.partition(b" ")
        await asyncio.sleep(0)
        return act(cmd, arg)

    if mode.startswith("sync"):
        resty_ffi.serve(tq, handle, threads=1, name="baseexc-sync")
    else:
        resty_ffi.serve_async(tq, handle_async, name="baseexc-async")
    return 0
