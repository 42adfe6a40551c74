"""TAP-ish output: one line per block, its reasons, the summary line."""

import sys


class Result(object):
    def __init__(self):
        self.fails = []
        self.warns = []
        self.notes = []
        self.skip = None

    def fail(self, msg):
        self.fails.append(msg)


def out(line=''):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


class Report(object):
    """Counts the blocks and prints their lines."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.counter = 0

    out = staticmethod(out)

    def block(self, fname, block, res):
        """The result line of one block and its reasons."""
        self.counter += 1
        title = '%s %s' % (fname, block.name)
        if res.skip is not None:
            self.skipped += 1
            self.out('ok %d - %s # SKIP %s' % (self.counter, title, res.skip))
        elif res.fails:
            self.failed += 1
            self.out('not ok %d - %s' % (self.counter, title))
        else:
            self.passed += 1
            self.out('ok %d - %s' % (self.counter, title))
        for f in res.fails:
            self.out('    ' + f)
        for w in res.warns:
            self.out('    # WARNING: ' + w)
        for n in res.notes:
            self.out('    # ' + n)

    def summary(self):
        """The last line: `N passed, N failed` (plus `, N skipped`)."""
        line = '%d passed, %d failed' % (self.passed, self.failed)
        if self.skipped:
            line += ', %d skipped' % self.skipped
        return line
