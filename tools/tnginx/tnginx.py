#!/usr/bin/env python3
"""Runs Test::Nginx `.t` files: the entry point of the tnginx package (tools/tnginx/tnginx/)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tnginx.main import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
