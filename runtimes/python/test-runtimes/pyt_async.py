"""t/030-python.t: an asyncio runtime (resty_ffi.serve_async) driven by commands.

cfg: the runtime's name (servers[name] is its resty_ffi.Server).
"""

import asyncio
import sys
import threading

import resty_ffi

servers = {}


def init(cfg, tq):
    name = resty_ffi.cfg_text(cfg) or "async"
    state = {"waiting": 0, "gate": None}

    def gate():
        if state["gate"] is None:
            state["gate"] = asyncio.Event()
        return state["gate"]

    async def handle(req):
        cmd, _, arg = req.partition(b" ")
        if cmd == b"echo":
            return arg
        if cmd == b"raise":
            raise ValueError(arg.decode())
        if cmd == b"fail":
            raise resty_ffi.Error(arg.decode(), rc=7)
        if cmd == b"int":
            return 42
        if cmd == b"none":
            return None
        if cmd == b"str":
            return arg.decode() + " \u00e9"
        if cmd == b"wait":
            state["waiting"] += 1
            await gate().wait()
            return arg
        if cmd == b"waiting":
            return str(state["waiting"])
        if cmd == b"release":
            gate().set()
            return b"released"
        if cmd == b"sleep":
            await asyncio.sleep(float(arg))
            return b"slept"
        if cmd == b"stopped":
            return str(servers[arg.decode()].stopped)
        if cmd == b"pyver":
            return "python%d.%d" % sys.version_info[:2]
        if cmd == b"threads":
            return " ".join(sorted(t.name for t in threading.enumerate()
                                   if t.name.endswith(("-loop", "-poll", "-cancel"))))
        raise resty_ffi.Error("unknown command", rc=22)

    servers[name] = resty_ffi.serve_async(tq, handle, name=name)
    return 0
