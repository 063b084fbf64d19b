"""``python -m app.selftest``: the self-test."""

import sys

from app.selftest import run_self_test

sys.exit(run_self_test(sys.argv[1:]))
