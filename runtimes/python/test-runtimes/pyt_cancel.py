"""t/030-python.t: deadlines and cancellation reach Python handlers.

cfg "sync": resty_ffi.serve on 4 threads (a blocking handler polls task.cancelled());
anything else: resty_ffi.serve_async (the handler's asyncio task is cancelled).

Commands:
  wait <s>   waits up to s seconds for its caller to give up; on the cancellation it counts
             and lets CancelledError out (the loader answers RC_CANCELLED), else answers
             "not cancelled"
  keep <s>   async: catches the CancelledError and answers anyway (the answer is thrown away)
  wait_mark <dict> <key> <s>
             as wait, and on the cancellation marks it in a shared dict (key = time.time()
             when the handler saw it): the zone outlives a worker that exits while the call
             waits (t/030's worker exit test)
  deadline   ms left until the call's deadline (task.deadline), or "none"
  clock      "same" when asyncio's loop.time() is time.monotonic()'s clock (async only)
  seen       "cancelled=N flagged=M": handlers that saw their cancellation, and how many of
             them found task.cancelled() True then
"""

import asyncio
import threading
import time

import resty_ffi

lock = threading.Lock()


def init(cfg, tq):
    mode = resty_ffi.cfg_text(cfg) or "async"
    seen = {"cancelled": 0, "flagged": 0}

    def count(task):
        with lock:
            seen["cancelled"] += 1
            if task.cancelled():
                seen["flagged"] += 1

    def common(cmd, task):
        if cmd == b"deadline":
            if task.deadline is None:
                return "none"
            return str(int((task.deadline - time.monotonic()) * 1000))
        if cmd == b"seen":
            with lock:
                return "cancelled=%d flagged=%d" % (seen["cancelled"], seen["flagged"])
        raise resty_ffi.Error("unknown command", rc=22)

    def mark_args(arg):
        name, key, secs = arg.split(b" ")
        return resty_ffi.shared_dict(name.decode()), key, float(secs)

    def handle(req):
        cmd, _, arg = req.partition(b" ")
        task = resty_ffi.current_task()
        if cmd in (b"wait", b"wait_mark"):
            dict_, key, secs = mark_args(arg) if cmd == b"wait_mark" else (None, None, float(arg))
            end = time.monotonic() + secs
            while time.monotonic() < end:
                if task.cancelled():
                    if dict_ is not None:
                        dict_.set(key, time.time())
                    count(task)
                    raise asyncio.CancelledError()
                time.sleep(0.005)
            return b"not cancelled"
        return common(cmd, task)

    async def handle_async(req):
        cmd, _, arg = req.partition(b" ")
        task = resty_ffi.current_task()
        if cmd in (b"wait", b"keep"):
            try:
                await asyncio.sleep(float(arg))
            except asyncio.CancelledError:
                count(task)
                if cmd == b"wait":
                    raise
                return b"kept going"
            return b"not cancelled"
        if cmd == b"wait_mark":
            dict_, key, secs = mark_args(arg)
            try:
                await asyncio.sleep(secs)
            except asyncio.CancelledError:
                dict_.set(key, time.time())
                count(task)
                raise
            return b"not cancelled"
        if cmd == b"clock":
            diff = abs(asyncio.get_running_loop().time() - time.monotonic())
            return "same" if diff < 0.05 else "differs by %f" % diff
        return common(cmd, task)

    if mode == "sync":
        resty_ffi.serve(tq, handle, threads=4, name="cancel-sync")
    else:
        resty_ffi.serve_async(tq, handle_async, name="cancel-async")
    return 0
