"""Helpers of the tests that start the runner, a sweep or ``origins_runs all`` as a real process."""

from __future__ import annotations

import time

import pytest


def wait_for(pred, proc, what: str = "the condition", timeout: float = 120):
    """Poll ``pred()`` every 0.1 s until it is true; fail the test if ``proc`` ends first (with its output)
    or after ``timeout`` seconds (killing ``proc``)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        if proc.poll() is not None:
            pytest.fail(f"process ended before {what}:\n{proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")
