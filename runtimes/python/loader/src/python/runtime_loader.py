"""Starts one runtime for libffi_init: sys.path, venv, import (or re-import), func(cfg, tq).

Private to libresty_ffi_python.so; runs with the GIL on the nginx worker thread.
"""

import glob
import importlib
import os
import site
import sys
import traceback

import resty_ffi


class LoadError(Exception):
    """A failure explained by its message alone (no traceback worth logging)."""


def _last_line(exc):
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _site_packages(venv):
    if not os.path.isdir(venv):
        raise LoadError("venv %s: no such directory" % venv)
    version = "python%d.%d" % sys.version_info[:2]
    path = os.path.join(venv, "lib", version, "site-packages")
    if not os.path.isdir(path):
        found = sorted(glob.glob(os.path.join(venv, "lib", "python*", "site-packages")))
        raise LoadError(
            "venv %s has no lib/%s/site-packages (found: %s); this loader runs Python %d.%d"
            % (venv, version, ", ".join(found) or "none", *sys.version_info[:2]))
    return path


def add_venv(venv):
    """Puts a venv's site-packages (and what its .pth files add) before the system's."""
    path = _site_packages(os.path.abspath(venv))
    if path in sys.path:
        return
    before = len(sys.path)
    site.addsitedir(path)
    added = sys.path[before:]
    del sys.path[before:]
    at = next((i for i, p in enumerate(sys.path)
               if p.endswith(("site-packages", "dist-packages"))), len(sys.path))
    sys.path[at:at] = added


def _import(name, reload):
    importlib.invalidate_caches()
    module = sys.modules.get(name)
    if module is None:
        return importlib.import_module(name)
    if reload:
        return importlib.reload(module)
    return module


def _rc(value, where):
    if value is None:
        return 0
    if isinstance(value, int):  # bool too: False is 0, as in the original loader
        if value == 0:
            return 0
        return value if -2**31 <= value < 2**31 else 1
    raise LoadError("%s returned %r: expected 0 or None (success) or another int (failure)"
                    % (where, value))


def start(venv, path_dir, module_name, reload, func_name, cfg_ptr, cfg_bytes, tq):
    """Returns (rc, message, traceback text): rc 0 and no message on success."""
    where = "%s.%s()" % (module_name, func_name)
    stage = "cannot import %s" % module_name
    try:
        if venv is not None:
            stage = "bad venv"
            add_venv(venv)
            stage = "cannot import %s" % module_name
        if path_dir is not None and path_dir not in sys.path:
            sys.path.insert(0, path_dir)
        module = _import(module_name, reload)
        func = getattr(module, func_name, None)
        if not callable(func):
            raise LoadError("module %s has no function %s" % (module_name, func_name))
        stage = "%s raised" % where
        resty_ffi._init_call.cfg = (cfg_ptr, cfg_bytes) if cfg_ptr else None
        try:
            value = func(cfg_ptr, tq)
        finally:
            resty_ffi._init_call.cfg = None
        rc = _rc(value, where)
        if rc != 0:
            return rc, "%s returned %d" % (where, rc), None
        return 0, None, None
    except LoadError as exc:
        return 1, str(exc), None
    except BaseException as exc:  # SystemExit too: an init must not end the worker
        frames = exc.__traceback__.tb_next  # from the user's code on, not this function
        text = "".join(traceback.format_exception(type(exc), exc, frames))
        return 1, "%s: %s" % (stage, _last_line(exc)), text
