"""tnginx: a runner for Test::Nginx `.t` files (Python 3 standard library only).

Run it as `python3 ci/tnginx.py` (or `python3 -m tnginx` from ci/); `--help`
prints tnginx.docs.USAGE, which documents the format subset and environment.
"""

from .main import main  # noqa: F401
