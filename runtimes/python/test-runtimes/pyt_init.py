"""t/030-python.t: init functions that fail in each way, and one that works."""

import resty_ffi

not_a_function = 3


def init_raise(cfg, tq):
    raise RuntimeError("no database at %s" % resty_ffi.cfg_text(cfg))


def init_rc(cfg, tq):
    return 5


def init_str(cfg, tq):
    return "yes"


def init_exit(cfg, tq):
    raise SystemExit(3)


def init_ok(cfg, tq):
    async def handle(req):
        return b"ok " + req

    resty_ffi.serve_async(tq, handle, name="init_ok")
    return 0
