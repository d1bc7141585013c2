"""Issue 21 item 10: Ray's tests run where the only network is loopback, or not at all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.netns import in_loopback_namespace, not_loopback_only_reason, only_loopback


def test_the_namespace_the_ray_tests_run_in_has_only_loopback():
    argv = in_loopback_namespace([sys.executable, "-c",
                                  "from tests.helpers.netns import interfaces, only_loopback; "
                                  "print(interfaces(), only_loopback())"])
    if argv is None:
        pytest.skip("making a network namespace needs root, unshare and ip")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 and "unshare" in proc.stderr:
        pytest.skip(f"no network namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['lo'] True"


def test_outside_such_a_namespace_the_reason_says_how():
    if only_loopback():
        pytest.skip("this process already has only loopback")
    reason = not_loopback_only_reason()
    assert "unshare -n" in reason and "ip link set lo up" in reason
