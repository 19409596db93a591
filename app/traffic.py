"""Demo traffic for the APM demo app: steady, real requests so APM has traces from the start.

Runs in its own container from the app's image (`python /app/traffic.py`, not under
ddtrace-run: the client is not a traced service). It requests the app's three routes in turn
at TRAFFIC_REQUESTS_PER_MINUTE, each wait jittered, each request bounded by a timeout.

It logs a start line and then one summary per TRAFFIC_SUMMARY_SECONDS, never a line per
request. After each request it records the time of the last success in TRAFFIC_STATUS_FILE;
`traffic.py --check` (the container's health check) passes only while a request succeeded
recently, so the container turns unhealthy when the app stops answering.

Settings (environment):
  TRAFFIC_TARGET               base URL of the app (required), e.g. http://my-flask-app:8080
  TRAFFIC_REQUESTS_PER_MINUTE  average rate, > 0 (default 30)
  TRAFFIC_JITTER               each wait varies by up to this fraction, 0..0.9 (default 0.5)
  TRAFFIC_TIMEOUT_SECONDS      per-request timeout (default 5)
  TRAFFIC_SUMMARY_SECONDS      how often to log a summary (default 300)
  TRAFFIC_DURATION_SECONDS     stop after this long; 0 runs until SIGTERM (default 0)
  TRAFFIC_STATUS_FILE          health state (default /tmp/dd-assessment-traffic.json)
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

PATHS = ("/", "/api/apm", "/api/trace")
USER_AGENT = "dd-assessment-traffic/1"
DEFAULT_STATUS_FILE = "/tmp/dd-assessment-traffic.json"


def log(message: str) -> None:
    print(f"dd-assessment-traffic: {message}", flush=True)


def setting(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        sys.exit(f"dd-assessment-traffic: {name}={raw!r} is not a number")
    if not low <= value <= high:
        sys.exit(f"dd-assessment-traffic: {name}={raw!r} is out of range; use {low:g}..{high:g}")
    return value


class Summary:
    """Counts since the last summary line."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.by_path: collections.Counter[str] = collections.Counter()
        self.ok = 0
        self.failed = 0
        self.seconds = 0.0
        self.last_error = ""

    def line(self) -> str:
        total = self.ok + self.failed
        mean_ms = 1000 * self.seconds / total if total else 0
        paths = ", ".join(f"GET {path} {count}" for path, count in sorted(self.by_path.items()))
        text = (f"last {time.monotonic() - self.started:.3g} s: {total} requests "
                f"({paths or 'none'}), {self.ok} ok, {self.failed} failed, mean {mean_ms:.0f} ms")
        return text + (f"; last error: {self.last_error}" if self.last_error else "")


def request(url: str, timeout: float) -> str:
    """'' if the app answered 2xx, else what went wrong."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            response.read()
            return ""
    except urllib.error.HTTPError as error:
        return f"GET {url} answered {error.code}"
    except (OSError, ValueError) as error:  # refused, unresolvable, timed out, bad URL
        return f"GET {url} failed: {error}"


def write_status(path: str, last_success: float | None, stale_after: float, error: str) -> None:
    """Atomically, so the health check never reads half a file."""
    state = {"last_success": last_success, "stale_after": stale_after, "last_error": error}
    partial = f"{path}.partial"
    with open(partial, "w") as handle:
        json.dump(state, handle)
    os.replace(partial, path)


def check(path: str) -> int:
    """The health check: 0 while a request succeeded within the last `stale_after` seconds."""
    try:
        with open(path) as handle:
            state = json.load(handle)
    except (OSError, ValueError) as error:
        print(f"no traffic status yet ({error})")
        return 1
    last_success = state.get("last_success")
    if last_success is None:
        print(f"no request has succeeded yet; last error: {state.get('last_error')}")
        return 1
    age = time.time() - last_success
    if age > state["stale_after"]:
        print(f"no request succeeded for {age:.0f} s; last error: {state.get('last_error')}")
        return 1
    print(f"last success {age:.0f} s ago")
    return 0


def run() -> int:
    target = os.environ.get("TRAFFIC_TARGET", "").rstrip("/")
    if not target.startswith(("http://", "https://")):
        sys.exit("dd-assessment-traffic: set TRAFFIC_TARGET to the app's base URL, "
                 "e.g. http://my-flask-app:8080")
    per_minute = setting("TRAFFIC_REQUESTS_PER_MINUTE", 30, 0.01, 60000)
    jitter = setting("TRAFFIC_JITTER", 0.5, 0, 0.9)
    timeout = setting("TRAFFIC_TIMEOUT_SECONDS", 5, 0.1, 60)
    summary_every = setting("TRAFFIC_SUMMARY_SECONDS", 300, 0.1, 86400)
    duration = setting("TRAFFIC_DURATION_SECONDS", 0, 0, 10**9)
    status_file = os.environ.get("TRAFFIC_STATUS_FILE") or DEFAULT_STATUS_FILE

    interval = 60 / per_minute
    # Healthy while a success is younger than three of the longest waits plus a timeout: one
    # failed request is not an outage, a few in a row are.
    stale_after = 3 * interval * (1 + jitter) + timeout
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    log(f"{per_minute:g} requests per minute (jitter {jitter:.0%}, timeout {timeout:g} s) "
        f"to {target} ({', '.join(PATHS)}); a summary every {summary_every:g} s")
    began = next_at = time.monotonic()
    last_success: float | None = None
    summary = Summary()
    sent = 0
    while not stop.is_set() and not (duration and time.monotonic() - began >= duration):
        path = PATHS[sent % len(PATHS)]
        sent += 1
        started = time.monotonic()
        error = request(target + path, timeout)
        summary.seconds += time.monotonic() - started
        summary.by_path[path] += 1
        if error:
            summary.failed += 1
            summary.last_error = error
        else:
            summary.ok += 1
            last_success = time.time()
        write_status(status_file, last_success, stale_after, summary.last_error)
        if time.monotonic() - summary.started >= summary_every:
            log(summary.line())
            summary = Summary()
        # Keep the average rate: schedule from the previous slot, never burst to catch up.
        next_at = max(next_at + interval * random.uniform(1 - jitter, 1 + jitter), time.monotonic())
        wait = next_at - time.monotonic()
        if duration:
            wait = min(wait, began + duration - time.monotonic())
        stop.wait(max(wait, 0))
    log(f"stopping; {summary.line()}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(check(os.environ.get("TRAFFIC_STATUS_FILE") or DEFAULT_STATUS_FILE))
    sys.exit(run())
