"""resty_ffi: serve ngx.load_ffi calls from Python (built into libresty_ffi_python.so).

    import resty_ffi

    async def handler(req: bytes) -> bytes:
        return req

    def init(cfg, tq):
        resty_ffi.serve_async(tq, handler)
        return 0

Native parts (defined before this code runs): TaskQueue, Task, log(), the nginx level
constants EMERG .. DEBUG and the answer codes the loader uses on its own, the reserved rcs of
abi/resty_ffi.h (the same in every language): RC_ERROR (-1, an error without a code of its
own), RC_PANICKED (-2, the handler raised), RC_DROPPED (-3, a task dropped without an
answer), RC_NO_MEMORY (-4, no memory for the answer), RC_CANCELLED (-5, the call was
cancelled: its caller gave up).

Shared dictionaries: shared_dict(name) is the zone of `lua_shared_dict name ...;` with
get/get_with_flags/set/safe_set/add/replace/delete/incr/ttl/expire, the values and expiry
Lua's ngx.shared.DICT sees (bytes, float, bool; times in seconds).
Streams (rt:stream_x(req) in Lua): a handler that is a generator function (serve) or an
async generator function (serve_async) yields the chunks of its answer; each is sent as it
comes (task.send / task.try_send, bytes, str or a byte buffer) and the generator's end ends
the stream. Once the caller stopped reading, the generator is closed (GeneratorExit at its
yield; serve_async cancels its asyncio task, as for any cancellation) and the call answers
RC_CANCELLED. For a plain call, the chunks are joined into one answer. By hand:
task.streaming(), task.send(data) (blocks without the GIL while the window is full; raises
StreamCancelled or NotStream), task.try_send(data) (False: window full).

Deadlines and cancellation: current_task() is the Task a handler runs for (serve and
serve_async set it); task.deadline is when its caller stops waiting (a time.monotonic()
value, None without a timeout) and task.cancelled() turns True once the caller gave up
(timeout, client abort, the end of its request). serve_async cancels the handler's asyncio
task then (CancelledError inside the handler); a CancelledError that leaves the handler of a
cancelled call answers RC_CANCELLED (the answer is thrown away: nobody waits for it).
"""

import asyncio
import contextvars
import inspect
import logging
import threading
import traceback

__all__ = [
    "TaskQueue", "Task", "Error", "Server", "serve", "serve_async", "cfg_text", "current_task",
    "log", "LogHandler", "shared_dict", "SharedDict", "SharedDictError",
    "StreamCancelled", "NotStream",
    "EMERG", "ALERT", "CRIT", "ERR", "WARN", "NOTICE", "INFO", "DEBUG",
    "RC_ERROR", "RC_PANICKED", "RC_DROPPED", "RC_NO_MEMORY", "RC_CANCELLED",
]

_logger = logging.getLogger("resty_ffi")


class Error(Exception):
    """Raise it in a handler to answer `false, rc, message` without logging a traceback.

    rc defaults to RC_ERROR (-1); an rc that is 0 or not a C int is sent as RC_ERROR.
    """

    def __init__(self, message="", rc=RC_ERROR):
        super().__init__(message)
        self.message = message
        self.rc = rc


class LogHandler(logging.Handler):
    """Sends log records to nginx's error.log (stderr outside nginx) at the matching level."""

    def emit(self, record):
        try:
            log(_nginx_level(record.levelno), self.format(record))
        except Exception:
            self.handleError(record)


def _nginx_level(levelno):
    if levelno >= logging.CRITICAL:
        return CRIT
    if levelno >= logging.ERROR:
        return ERR
    if levelno >= logging.WARNING:
        return WARN
    if levelno > logging.INFO:
        return NOTICE
    if levelno >= logging.INFO:
        return INFO
    return DEBUG


def _install_logging():
    """Called once by the loader: the root logger writes to error.log."""
    root = logging.getLogger()
    if not any(isinstance(h, LogHandler) for h in root.handlers):
        handler = LogHandler()
        handler.setFormatter(logging.Formatter("python %(name)s: %(message)s"))
        root.addHandler(handler)


# The cfg of the init(cfg, tq) call running on this thread, set by the loader.
_init_call = threading.local()


def cfg_text(cfg):
    """The text of init's `cfg` argument (an int pointer), or None if it is 0.

    Only valid during the init(cfg, tq) call, like the pointer itself.
    """
    if cfg == 0:
        return None
    current = getattr(_init_call, "cfg", None)
    if current is None or current[0] != cfg:
        raise ValueError("cfg_text(cfg): cfg is only valid during its init(cfg, tq) call")
    return current[1].decode("utf-8")


# The task the running handler serves (set by serve and serve_async).
_current = contextvars.ContextVar("resty_ffi_current_task", default=None)


def current_task():
    """The Task the running handler serves (in serve and serve_async handlers), else None.

    For its deadline and cancellation: task.deadline, task.cancelled().
    """
    return _current.get()


_RC_MIN, _RC_MAX = -(1 << 31), (1 << 31) - 1


def _error_answer(task, exc, handler, rc=RC_PANICKED):
    """Answers a task whose handler raised (any BaseException): a non-zero rc and a message.

    The rc is that of a resty_ffi.Error, else `rc` (RC_PANICKED: the handler raised).
    Never raises: a serving thread or loop must outlive whatever a handler throws.
    A CancelledError out of the handler of a call its caller gave up on answers RC_CANCELLED
    (not an error: nothing is logged).
    """
    try:
        if isinstance(exc, StreamCancelled) or (
                isinstance(exc, asyncio.CancelledError) and task.cancelled()):
            task.respond("cancelled", RC_CANCELLED)
            return
        _describe_error(task, exc, handler, rc)
    except BaseException as failure:  # e.g. logging or an odd exception class failed
        if not task.answered:
            task.respond("%s: <exception str() failed>" % _type_name(exc), rc)
        try:
            _logger.error("answering the exception of handler %s failed: %r",
                          _handler_name(handler), failure)
        except BaseException:
            pass


def _type_name(exc):
    cls = type(exc)
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", None) or "exception"
    return name if module in (None, "builtins", "__main__") else "%s.%s" % (module, name)


def _handler_name(handler):
    return getattr(handler, "__qualname__", None) or repr(handler)


def _describe_error(task, exc, handler, rc):
    if isinstance(exc, Error):
        rc = exc.rc
        # rc must be a non-zero C int; anything else becomes RC_ERROR
        if not isinstance(rc, int) or rc == 0 or not _RC_MIN <= rc <= _RC_MAX:
            rc = RC_ERROR
        message = exc.message
        if not isinstance(message, (bytes, str)):
            message = str(message)
        task.respond(message, rc)
        return
    _logger.error("handler %s raised", _handler_name(handler),
                  exc_info=(type(exc), exc, exc.__traceback__))
    last_line = traceback.format_exception_only(type(exc), exc)[-1].strip()
    task.respond(last_line, rc)


def _bytes(chunk):
    return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)


def _send_all(task, gen):
    """serve(): sends what a generator handler yields; the answer (None, or for a plain
    call the chunks joined). StreamCancelled closes the generator and goes on up."""
    if not task.streaming():
        return b"".join(_bytes(chunk) for chunk in gen)
    try:
        for chunk in gen:
            task.send(chunk)
    finally:
        gen.close()
    return None


async def _send_async(task, chunk):
    """serve_async(): try_send, and while the window is full yield to the loop a few times,
    then sleep 1 ms doubling up to 16 ms. Never a blocking send: a call cancelled at its
    await leaves no send behind that would hold its answer back."""
    tries = 0
    while not task.try_send(chunk):
        await asyncio.sleep(0 if tries < 4 else 0.001 * (1 << min(tries - 4, 4)))
        tries += 1


async def _send_all_async(task, agen):
    if not task.streaming():
        return b"".join([_bytes(chunk) async for chunk in agen])
    try:
        async for chunk in agen:
            await _send_async(task, chunk)
    finally:
        await agen.aclose()
    return None


def _call_and_answer(task, handler):
    """serve(): runs a blocking handler and answers its task, whatever it raises."""
    token = _current.set(task)
    try:
        result = handler(task.req)
        if inspect.isgenerator(result):
            result = _send_all(task, result)
    except BaseException as exc:  # SystemExit, KeyboardInterrupt, ... too
        _error_answer(task, exc, handler)
    else:
        _answer(task, result, handler)
    finally:
        _current.reset(token)


def _answer(task, result, handler):
    try:
        task.respond(result)
    except BaseException as exc:  # a result respond() cannot send: the handler's error
        if not task.answered:
            _error_answer(task, exc, handler,
                          RC_NO_MEMORY if isinstance(exc, MemoryError) else RC_ERROR)


class Server:
    """What serve() and serve_async() return: the threads serving one runtime."""

    def __init__(self, name):
        self.name = name
        self.threads = []
        self._stopped = threading.Event()

    @property
    def stopped(self):
        """True once the runtime was unloaded and every task was answered."""
        return self._stopped.is_set()

    def wait(self, timeout=None):
        """Waits until stopped (never call it from init: it runs on the nginx worker)."""
        return self._stopped.wait(timeout)

    def __repr__(self):
        return "<resty_ffi.Server %s%s>" % (self.name, " stopped" if self.stopped else "")


def _start_thread(server, target, suffix):
    t = threading.Thread(target=target, name="%s-%s" % (server.name, suffix), daemon=True)
    server.threads.append(t)
    t.start()


def serve(tq, handler, *, threads=1, name="resty_ffi"):
    """Serves `handler(req: bytes) -> bytes|str|None` on `threads` threads.

    A generator handler streams: each yielded chunk is sent (see Streams above).

    For blocking code (each thread answers one call at a time). Returns a Server.
    """
    if not callable(handler):
        raise TypeError("serve(tq, handler): handler must be callable")
    if threads < 1:
        raise ValueError("serve(tq, handler, threads=N): N must be >= 1")
    queue = TaskQueue(tq)
    server = Server(name)
    left = [threads]
    lock = threading.Lock()

    def run():
        for task in queue:
            _call_and_answer(task, handler)
            del task
        with lock:
            left[0] -= 1
            if left[0] == 0:
                server._stopped.set()

    for i in range(threads):
        _start_thread(server, run, "poll%d" % i)
    return server


def serve_async(tq, handler, *, loop=None, name="resty_ffi"):
    """Serves `async def handler(req: bytes) -> bytes|str|None`, many calls in flight.

    An async generator handler streams: each yielded chunk is sent (see Streams above).

    One thread polls the task queue (without the GIL while it waits) and starts each call
    as an asyncio task. The event loop runs in a thread of its own, or on `loop` if given
    (an event loop already running in another thread, e.g. shared by several runtimes).
    A second thread waits for cancellations: when a caller gives up (timeout, client abort,
    the end of its request), the call's asyncio task is cancelled (CancelledError inside the
    handler at its next await). After the unload, the calls in flight finish, then the loop
    stops (if it is ours). Returns a Server.
    """
    if not callable(handler):
        raise TypeError("serve_async(tq, handler): handler must be an async function")
    queue = TaskQueue(tq)
    server = Server(name)
    own_loop = loop is None
    if own_loop:
        loop = asyncio.new_event_loop()
    running = set()
    by_id = {}  # Task.id -> the asyncio task of its call (loop thread only)

    async def call(task):
        _current.set(task)  # in this asyncio task's own context
        # BaseException too: asyncio re-raises SystemExit and KeyboardInterrupt out of
        # run_forever(), which would stop the loop for good
        try:
            if task.cancelled():  # announced before the call started
                raise asyncio.CancelledError()
            result = handler(task.req)
            if inspect.isasyncgen(result):
                result = await _send_all_async(task, result)
            else:
                result = await result
        except BaseException as exc:
            _error_answer(task, exc, handler)
        else:
            _answer(task, result, handler)

    def start(task):
        key = task.id
        t = loop.create_task(call(task))
        running.add(t)
        by_id[key] = t

        def done(_):
            running.discard(t)
            if by_id.get(key) is t:
                del by_id[key]

        t.add_done_callback(done)

    def cancel(ids):
        for key in ids:
            t = by_id.get(key)
            if t is not None:
                t.cancel()

    async def drain():
        while running:
            await asyncio.wait(list(running))

    def stop():
        finished = loop.create_task(drain())

        def done(_):
            server._stopped.set()
            if own_loop:
                loop.stop()

        finished.add_done_callback(done)

    def poll():
        for task in queue:
            loop.call_soon_threadsafe(start, task)
            del task
        loop.call_soon_threadsafe(stop)

    def listen():
        while True:
            ids = queue.cancel_poll()
            if not ids:  # unloaded
                return
            try:
                loop.call_soon_threadsafe(cancel, ids)
            except RuntimeError:  # the loop is closed: nothing left to cancel
                return

    def run_loop():
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    if own_loop:
        _start_thread(server, run_loop, "loop")
    _start_thread(server, listen, "cancel")
    _start_thread(server, poll, "poll")
    return server
