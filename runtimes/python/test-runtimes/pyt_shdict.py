"""t/029-shared-dict-sdks.t: resty_ffi.shared_dict, with the `shd ...` commands of the Rust
and Go SDK test runtimes (errors answer rc 1 with the message)."""

import resty_ffi


def num(v):
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def shd(req):
    parts = req.split(b" ", 3)
    op, name, key = parts[0], parts[1].decode(), parts[2] if len(parts) > 2 else b""
    rest = parts[3] if len(parts) > 3 else b""
    d = resty_ffi.shared_dict(name)
    if op in (b"set", b"add", b"replace", b"safe_set"):
        ttl, _, rest = rest.partition(b" ")
        typ, _, raw = rest.partition(b" ")
        value = {b"string": lambda: raw, b"number": lambda: float(raw),
                 b"boolean": lambda: raw == b"true"}[typ]()
        ttl = int(ttl) / 1000
        if op == b"set":
            d.set(key, value, ttl)
        elif op == b"safe_set":
            d.safe_set(key, value, ttl)
        elif op == b"add" and not d.add(key, value, ttl):
            return b"exists"
        elif op == b"replace" and not d.replace(key, value, ttl):
            return b"not found"
        return b"stored"
    if op == b"get":
        v, flags = d.get_with_flags(key)
        if v is None:
            typ, text = "nil", b""
        elif isinstance(v, bool):
            typ, text = "boolean", str(v).lower().encode()
        elif isinstance(v, float):
            typ, text = "number", num(v).encode()
        else:
            typ, text = "string", v
        return typ.encode() + b" " + text + b" flags=" + str(flags).encode()
    if op == b"delete":
        d.delete(key)
        return b"deleted"
    if op == b"incr":
        args = rest.split(b" ")
        delta = float(args[0])
        if len(args) > 1 and args[1]:
            ttl = int(args[2]) / 1000 if len(args) > 2 else 0
            return num(d.incr(key, delta, float(args[1]), ttl)).encode()
        return num(d.incr(key, delta)).encode()
    if op == b"ttl":
        ttl = d.ttl(key)
        return b"never" if ttl == 0 else str(round(ttl * 1000)).encode()
    if op == b"expire":
        return b"expired" if d.expire(key, int(rest) / 1000) else b"not found"
    raise resty_ffi.Error("unknown shd command", rc=22)


def handle(req):
    cmd, _, arg = req.partition(b" ")
    if cmd != b"shd":
        raise resty_ffi.Error("unknown command", rc=22)
    try:
        return shd(arg)
    except KeyError:
        raise resty_ffi.Error("not found", rc=1)
    except resty_ffi.SharedDictError as e:
        raise resty_ffi.Error(str(e), rc=1)


def init(cfg, tq):
    # Outside a configured dict: the error names the dict, and the module is there.
    try:
        resty_ffi.shared_dict("no_such_dict_at_init")
    except resty_ffi.SharedDictError as e:
        resty_ffi.log(resty_ffi.INFO, "pyt_shdict: " + str(e))
    resty_ffi.serve(tq, handle, threads=2, name="shdict")
