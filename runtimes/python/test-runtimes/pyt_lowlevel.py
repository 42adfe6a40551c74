"""t/030-python.t: resty_ffi.TaskQueue and Task used directly, on a thread of our own."""

import threading

import resty_ffi

init_cfg = {}


def serve(queue):
    for task in queue:
        cmd, _, arg = task.req.partition(b" ")
        if cmd == b"echo":
            task.respond(arg)
        elif cmd == b"twice":
            task.respond(arg)
            try:
                task.respond(b"again")
            except RuntimeError as exc:
                resty_ffi.log(resty_ffi.WARN, "pyt_lowlevel: second answer refused: %s" % exc)
        elif cmd == b"none":
            task.respond()
        elif cmd == b"rc":
            rc, _, text = arg.partition(b" ")
            task.respond(text, rc=int(rc))
        elif cmd == b"str":
            task.respond("h\u00e9llo")
        elif cmd == b"bytearray":
            task.respond(bytearray(arg))
        elif cmd == b"memoryview":
            task.respond(memoryview(arg)[1:])
        elif cmd == b"badtype":
            try:
                task.respond(42)
            except TypeError as exc:
                task.respond(str(exc), rc=2)
        elif cmd == b"drop":
            pass  # never answered: dropping the Task answers it
        elif cmd == b"cfg":
            task.respond(repr(init_cfg["text"]))
        elif cmd == b"cfglater":
            try:
                resty_ffi.cfg_text(init_cfg["ptr"])
                task.respond(b"no error")
            except ValueError as exc:
                task.respond(str(exc))
        elif cmd == b"answered":
            before = task.answered
            task.respond(b"x")
            resty_ffi.log(resty_ffi.NOTICE,
                          "pyt_lowlevel: answered %s -> %s" % (before, task.answered))
        else:
            task.respond(b"unknown command", rc=22)
        del task
    resty_ffi.log(resty_ffi.NOTICE, "pyt_lowlevel: poll gave None, closed=%s, again=%s"
                  % (queue.closed, queue.poll()))


def init(cfg, tq):
    init_cfg["ptr"] = cfg
    init_cfg["text"] = resty_ffi.cfg_text(cfg)
    queue = resty_ffi.TaskQueue(tq)
    threading.Thread(target=serve, args=(queue,), name="lowlevel", daemon=True).start()
    return 0
