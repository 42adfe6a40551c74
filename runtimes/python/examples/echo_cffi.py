"""Echo runtime in the style of the original lua-resty-ffi's Python examples: cffi calls the
runtime ABI that nginx's resty_ffi module exports, from a thread of its own. Modules written
this way run unchanged under libresty_ffi_python.so (cffi comes from the venv).

    local rt = ngx.load_ffi("resty_ffi_python",
                            "venv=/path/to/venv;/path/to/resty-ffi/runtimes/python/examples/echo_cffi,init",
                            { is_global = true })
    rt:echo("hello")   --> true, "hello"
"""

import threading

from cffi import FFI

ffi = FFI()
ffi.cdef("""
void *malloc(size_t size);
void *ngx_http_lua_ffi_task_poll(void *tq);
char *ngx_http_lua_ffi_get_req(void *task, int *len);
void ngx_http_lua_ffi_respond(void *task, int rc, char *rsp, int rsp_len);
""")
C = ffi.dlopen(None)


def poll(tq):
    tq = ffi.cast("void *", tq)
    length = ffi.new("int *")
    while True:
        task = C.ngx_http_lua_ffi_task_poll(tq)
        if task == ffi.NULL:
            break
        req = C.ngx_http_lua_ffi_get_req(task, length)
        n = length[0]
        # The module frees the answer: copy the request into malloc()ed memory.
        rsp = ffi.cast("char *", C.malloc(n + 1))
        ffi.memmove(rsp, req, n + 1)
        C.ngx_http_lua_ffi_respond(task, 0, rsp, n)


def init(cfg, tq):
    t = threading.Thread(target=poll, args=(tq,), name="echo_cffi", daemon=True)
    t.start()
    return 0
