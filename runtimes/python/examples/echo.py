"""Echo runtime on the built-in resty_ffi module (no cffi): each call answers its request,
prefixed with the load's cfg if there is one.

    local rt = ngx.load_ffi("resty_ffi_python", "/path/to/resty-ffi/runtimes/python/examples/echo,init,>> ",
                            { is_global = true })
    rt:echo("hello")   --> true, ">> hello"
"""

import resty_ffi


def init(cfg, tq):
    prefix = (resty_ffi.cfg_text(cfg) or "").encode()

    async def echo(req: bytes) -> bytes:
        return prefix + req

    resty_ffi.serve_async(tq, echo, name="echo")
    return 0
