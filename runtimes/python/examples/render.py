"""Renders Jinja2 templates (a PyPI package, from the venv) on an asyncio loop.

cfg: the templates directory (default: templates/ beside this file).
request: JSON {"template": "<file name>", "vars": {...}}; answer: the rendered text.
A missing template or bad JSON answers false, -2 (resty_ffi.RC_PANICKED: the handler raised),
"<ExceptionType>: <message>".

    local rt = ngx.load_ffi("resty_ffi_python",
        "venv=/path/to/venv;/path/to/resty-ffi/runtimes/python/examples/render,init", { is_global = true })
    rt:render('{"template": "greeting.html", "vars": {"name": "Ada", "items": ["tea"]}}')
"""

import json
import logging
import os

import jinja2

import resty_ffi

log = logging.getLogger("render")


def init(cfg, tq):
    folder = resty_ffi.cfg_text(cfg) or os.path.join(os.path.dirname(__file__), "templates")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        enable_async=True,
    )

    async def render(req: bytes) -> str:
        call = json.loads(req)
        if not isinstance(call, dict) or "template" not in call:
            raise resty_ffi.Error('expected {"template": name, "vars": {...}}', rc=400)
        template = env.get_template(call["template"])
        return await template.render_async(**call.get("vars", {}))

    resty_ffi.serve_async(tq, render, name="render")
    log.info("rendering templates from %s with jinja2 %s", folder, jinja2.__version__)
    return 0
