"""Skips are loud: the summary lists every skip with its reason (`-rs` in both pytest.ini files),
and under CI=true any skip fails the run, since in CI every test must run.

Loaded by both suites (`-p tests.skip_policy`): the Pulumi venv's and tests/host's.
"""

from __future__ import annotations

import os

import pytest

_skipped: list[str] = []


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller decides
        return
    if _in_ci() and _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _skipped and _in_ci() and not hasattr(config, "workerinput"):
        terminalreporter.write_line(
            f"CI=true: {len(_skipped)} test(s) skipped (see the SKIPPED lines); in CI every test "
            "must run, so this run fails.", red=True, bold=True)
