"""How long the program takes to evaluate, against the floor of importing its SDKs.

`pulumi preview` time is mostly program evaluation. Each measurement runs in a fresh
interpreter (as `pulumi` starts one), best of several runs:
  floor   import the SDKs the program uses, nothing else;
  N hosts import the same and evaluate `__main__.py` under mocks with hostCount=N.
Target: at most 1.3x the floor for 1 host and 1.6x for 10.  Usage: venv/bin/python bench/eval.py
"""

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
SDKS = ("import pulumi, pulumi_aws, pulumi_random, pulumi_command, pulumi_docker, pulumi_datadog, "
        "pulumiverse_time")
FLOOR = f"{SDKS}; import pulumi_aws.ec2, pulumi_aws.iam, pulumi_aws.ssm"
EVALUATE = """
import sys; sys.path.insert(0, {root!r})
from tests.harness import evaluate
evaluate({{"hostCount": "{hosts}"}})
"""
TARGETS = {1: 1.3, 10: 1.6}


def best_of(code: str) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    floor = best_of(FLOOR)
    report = {"floor_s": round(floor, 3)}
    within = True
    for hosts, target in TARGETS.items():
        seconds = best_of(EVALUATE.format(root=str(ROOT), hosts=hosts))
        ratio = seconds / floor
        within &= ratio <= target
        report[f"{hosts}_hosts"] = {"seconds": round(seconds, 3), "x_floor": round(ratio, 2),
                                    "target": target}
    print(json.dumps(report, indent=2))
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
