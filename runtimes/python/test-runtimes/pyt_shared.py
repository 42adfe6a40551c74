"""t/030-python.t: runtimes with different cfg share one interpreter (and this module)."""

import os

import resty_ffi

loaded = []


def init(cfg, tq):
    name = resty_ffi.cfg_text(cfg)
    loaded.append(name)

    async def handle(req):
        return "%s: %s %s pid=%d" % (name, req.decode(), ",".join(loaded), os.getpid())

    resty_ffi.serve_async(tq, handle, name=name)
    return 0
