"""bench.stats.tree_usage counts a child's CPU after it has exited: no stack needed."""

from __future__ import annotations

import subprocess
import sys

import psutil

from bench.stats import tree_usage

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_a_child_that_ran_and_exited_between_two_readings_is_counted() -> None:
    me = psutil.Process()
    before, _ = tree_usage(me)
    subprocess.run([sys.executable, "-c", BURN], check=True)  # started, burned, waited for
    after, rss = tree_usage(me)
    assert after - before >= 0.25
    assert rss > 0
