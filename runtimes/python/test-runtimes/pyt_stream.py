"""t/031-stream-sdks.t: Python handlers that stream (generators).

cfg "sync": resty_ffi.serve on 2 threads with a generator handler; anything else:
resty_ffi.serve_async with an async generator handler.

Commands (every handler is a generator; a plain call gets the chunks joined):
  stream <n> <size>   n chunks "i:abc..." of size bytes
  stream_fail <n>     n chunks of 8 bytes, then resty_ffi.Error("went wrong", 7)
  stream_ticks <ms>   "tick i" every ms until the caller stops reading (the generator is
                      closed, or its asyncio task cancelled: counted)
  stream_cancels      how many stream_ticks were stopped so
  is_stream           "stream" or "plain" (task.streaming())
"""

import asyncio
import threading
import time

import resty_ffi

lock = threading.Lock()
stopped = [0]


def chunk_of(i, size):
    c = ("%d:" % i).encode()
    out = bytearray(c)
    n = len(c)
    while n < size:
        out.append(97 + n % 26)
        n += 1
    return bytes(out[:size])


def count_stop():
    with lock:
        stopped[0] += 1


def init(cfg, tq):
    mode = resty_ffi.cfg_text(cfg) or "async"

    def handle(req):
        cmd, _, arg = req.partition(b" ")
        a, _, b = arg.partition(b" ")
        if cmd == b"stream":
            for i in range(int(a)):
                yield chunk_of(i, int(b))
        elif cmd == b"stream_fail":
            for i in range(int(a)):
                yield chunk_of(i, 8)
            raise resty_ffi.Error("went wrong", 7)
        elif cmd == b"stream_ticks":
            i = 0
            try:
                while True:
                    yield "tick %d" % i
                    i += 1
                    time.sleep(int(a) / 1000)
            except GeneratorExit:
                count_stop()
                raise
        elif cmd == b"stream_cancels":
            yield str(stopped[0])
        elif cmd == b"is_stream":
            yield "stream" if resty_ffi.current_task().streaming() else "plain"
        else:
            raise resty_ffi.Error("unknown command", 22)

    async def handle_async(req):
        cmd, _, arg = req.partition(b" ")
        a, _, b = arg.partition(b" ")
        if cmd == b"stream":
            for i in range(int(a)):
                yield chunk_of(i, int(b))
        elif cmd == b"stream_fail":
            for i in range(int(a)):
                yield chunk_of(i, 8)
            raise resty_ffi.Error("went wrong", 7)
        elif cmd == b"stream_ticks":
            i = 0
            try:
                while True:
                    yield "tick %d" % i
                    i += 1
                    await asyncio.sleep(int(a) / 1000)
            except (GeneratorExit, asyncio.CancelledError):
                count_stop()
                raise
        elif cmd == b"stream_cancels":
            yield str(stopped[0])
        elif cmd == b"is_stream":
            yield "stream" if resty_ffi.current_task().streaming() else "plain"
        else:
            raise resty_ffi.Error("unknown command", 22)

    if mode == "sync":
        resty_ffi.serve(tq, handle, threads=2, name="stream-sync")
    else:
        resty_ffi.serve_async(tq, handle_async, name="stream-async")
    return 0
