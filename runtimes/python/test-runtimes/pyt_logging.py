"""t/030-python.t: Python logging lands in nginx's error.log at the matching level."""

import logging

import resty_ffi

log = logging.getLogger("pyt")


def init(cfg, tq):
    logging.getLogger().setLevel(logging.DEBUG)
    log.warning("a warning from init")

    async def handle(req):
        log.critical("a critical record")
        log.warning("a warning record")
        log.log(25, "a level-25 record")
        log.info("an info record")
        log.debug("a debug record")
        log.info("long %s end-of-long", "x" * 3000)
        resty_ffi.log(resty_ffi.NOTICE, b"raw bytes through resty_ffi.log")
        return b"logged"

    resty_ffi.serve_async(tq, handle, name="logging")
    return 0
