#!/usr/bin/env python3
"""Runs the runner's unit tests (tools/tnginx/tests/test_*.py, no nginx needed). The last line
is `N passed, N failed`, as the runner's own, for ci/test.sh."""
import os
import sys
import unittest

tests = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(tests)
sys.path.insert(0, top)
suite = unittest.defaultTestLoader.discover(tests)
result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
failed = len(result.failures) + len(result.errors)
print('%d passed, %d failed' % (result.testsRun - failed, failed))
sys.exit(1 if failed or not result.testsRun else 0)
