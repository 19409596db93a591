"""tests/skip_policy.py: a skip always shows its reason, and under CI=true it fails the run."""

import os
import subprocess
import sys

import pytest

from tests.harness import ROOT

SKIPPING = """
import pytest

def test_runs():
    pass

def test_needs_something():
    pytest.skip("needs something this machine lacks")
"""


@pytest.mark.parametrize(("ci", "exit_code"), [("", 0), ("true", 1)])
def test_a_skip_is_reported_with_its_reason_and_fails_only_in_ci(tmp_path, ci, exit_code):
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.skip_policy",
         "-rfEs", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=ROOT, env={**os.environ, "CI": ci}, capture_output=True, text=True, timeout=60)
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert "test_skipping.py:8: needs something this machine lacks" in result.stdout
    assert ("in CI every test must run" in result.stdout) == (ci == "true")


def test_both_suites_load_the_policy_and_list_skip_reasons():
    assert "-p tests.skip_policy -rfEs" in (ROOT / "pytest.ini").read_text()
    assert "-p tests.skip_policy -ra" in (ROOT / "tests" / "host" / "pytest.ini").read_text()
