"""Run the full test suite N times in a row and report every failure: the flake benchmark.

Each run is `make test` (both suites), exactly as a user or CI runs it. A run's output is kept
only when it failed. The bar: 20 consecutive runs green. Not part of CI (it takes N suite-times).
  Usage: python3 bench/flakes.py [N=20] [-- other command]
  e.g.   python3 bench/flakes.py 3
         python3 bench/flakes.py 10 -- venv/bin/python -m pytest -n 4 -q
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# pytest's short summary: "FAILED tests/x.py::test_y - AssertionError..." / "ERROR tests/x.py::..."
FAILURE = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv and argv[0] != "--" else 20
    command = argv[argv.index("--") + 1:] if "--" in argv else ["make", "test"]
    logs = Path(tempfile.mkdtemp(prefix="dd-assessment-flakes-"))
    failed_runs, failures, durations = 0, collections.Counter(), []
    for run in range(1, runs + 1):
        start = time.monotonic()
        result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        durations.append(time.monotonic() - start)
        if result.returncode == 0:
            print(f"run {run}/{runs}: ok in {durations[-1]:.1f} s", flush=True)
            continue
        failed_runs += 1
        log = logs / f"run-{run}.log"
        log.write_text(result.stdout)
        names = FAILURE.findall(result.stdout) or [f"(exit {result.returncode}, no test named)"]
        failures.update(names)
        print(f"run {run}/{runs}: FAILED in {durations[-1]:.1f} s: {', '.join(names)} (log: {log})",
              flush=True)
    print(f"\n{runs - failed_runs} of {runs} runs green; `{' '.join(command)}` took "
          f"{min(durations):.1f}-{max(durations):.1f} s (median {sorted(durations)[runs // 2]:.1f} s)")
    for name, count in failures.most_common():
        print(f"  failed {count}x: {name}")
    if not failed_runs:
        logs.rmdir()
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
