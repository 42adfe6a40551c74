"""The texts printed by --help (USAGE) and --deviations (DEVIATIONS): the runner's README.md,
which is their one source (up to its deviations section, and that section)."""

import os

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'README.md')
DEVIATIONS_TITLE = '## Deviations from the real Test::Nginx'


def _readme_parts():
    try:
        with open(README) as f:
            text = f.read()
    except (IOError, OSError) as e:
        return 'cannot read %s: %s' % (README, e), ''
    head, sep, tail = text.partition(DEVIATIONS_TITLE)
    return head.rstrip() + '\n', (sep + tail).rstrip() + '\n'


USAGE, DEVIATIONS = _readme_parts()
