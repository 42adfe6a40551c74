#!/usr/bin/env python3
"""Forwards to the Test::Nginx runner, which now lives in tools/tnginx/ (its README.md).

Kept only because ci/test-extra.d/60-static-lua.sh, which another branch is changing, still
runs `python3 ci/tnginx.py t/`: once that line says tools/tnginx/tnginx.py, delete this file.
"""
import os
import sys

runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools', 'tnginx',
                      'tnginx.py')
os.execv(sys.executable, [sys.executable, os.path.normpath(runner)] + sys.argv[1:])
