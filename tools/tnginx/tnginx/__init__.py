"""tnginx: a runner for Test::Nginx `.t` files (Python 3 standard library only).

Run it as `python3 tools/tnginx/tnginx.py` (or `python3 -m tnginx` from tools/tnginx/); `--help`
prints the runner's README.md (the format subset, the environment, the deviations).
"""

from .main import main  # noqa: F401
