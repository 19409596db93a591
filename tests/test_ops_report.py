"""`make report` against the local Datadog stand-in (tests/datadog_standin.py), whose snapshot
URLs answer 404/403 before their PNG as Datadog's do: the write-up is complete in Markdown and
HTML, in the original write-up's order, every picture downloaded and shown; verify's verdict on
top with failures shown as failures; the monitor's message per state and the downtimes' windows
as written out below; missing pictures named within the bound; links on the stack's site; text
from Datadog kept inert in the HTML; and the page opened by a real headless Chromium (Debian's
`chromium`): every image loads and the screenshot shows the graphs."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from ops import report
from ops.verify import Clock
from tests import datadog_standin as dd
from tests.datadog_standin import HOSTS, NOW
from tests.test_ops_verify import (
    FakeClock,  # wall time at NOW; sleeping advances the monotonic clock
)

H0, H1 = HOSTS
PICTURES = [f"{graph}-{window}.png" for graph in ("my-metric-by-host", "anomalies", "hourly-rollup",
                                                   "apm-requests", "apm-latency", "host-cpu")
            for window in ("5m", "1h")]
# The original write-up's sections, in its order (/work/shared/seed), as the report titles them.
SECTIONS = [
    "## Verdict: `make verify`",
    "## Prerequisites: set up the environment",
    "## Section 1: Collecting metrics",
    "#### 1a. Tags in the Agent's config; the host and its tags on the Host Map",
    "#### 1b. A database and its integration",
    "#### 1c. A custom Agent check submitting my_metric, a random value 0..1000",
    "#### 1d. Submit it once every 45 seconds",
    "## Section 2: Visualizing data",
    "#### 2a. A timeboard created through the API",
    "#### 2b. The timeboard over the past 5 minutes and the past hour",
    "## Section 3: Monitoring data",
    "#### The message, as each state sends it",
    "#### Bonus: two scheduled downtimes (weeknights 7pm to 9am, all weekend)",
    "## Section 4: Collecting APM data",
    "#### A dashboard with APM and infrastructure metrics",
    "## Final question: is there anything creative you would use Datadog for?",
]
BOTH_HOSTS = f"host:{H0} OR host:{H1}"


def run(capsys, env, *args, clock: Clock | None = None) -> tuple[int, list[str], str]:
    code = report.main(list(args), env=env, clock=clock or FakeClock().clock())
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


@pytest.fixture
def written(standin, ops_env, outputs_file, tmp_path, capsys):
    """A report of the healthy stand-in stack: (exit code, stdout lines, folder, markdown, html)."""
    folder = tmp_path / "report"
    code, lines, err = run(capsys, ops_env, "--outputs", str(outputs_file), "--into", str(folder))
    assert err == ""
    return code, lines, folder, (folder / "report.md").read_text(), (folder / "report.html").read_text()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def colours(image: Image.Image) -> int:
    return len(image.getcolors(maxcolors=1 << 20) or [])


# ---- a healthy stack -------------------------------------------------------------------------

def test_a_healthy_stack_gives_a_complete_report(standin, written):
    code, lines, folder, md, page = written
    assert code == 0
    assert lines == [f"report: {folder / 'report.md'}", f"report: {folder / 'report.html'}",
                     "report: 18 of 18 checks passed; 12 of 12 pictures"]
    # The original write-up's sections, each once, in its order.
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert [h for h in headings if h in SECTIONS] == SECTIONS
    assert "**All 18 checks passed** at Wed 21 Oct 2026 11:00 EDT (15:00 UTC)" in md
    # The HTML page is the same write-up: the same headings, in the same order.
    in_html = [html.unescape(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r"<h[1-6][^>]*>.*?</h[1-6]>", page)]
    assert in_html == [re.sub(r"\\(.)", r"\1", h.lstrip("# ").replace("`", "")) for h in headings]
    assert page.count("<img ") == md.count("![") == 14  # 12 pictures, my_metric's two in 1c and 2b
    anchors = re.findall(r'href="#([^"]+)"', page)
    assert len(anchors) == 6 and set(anchors) <= set(re.findall(r'id="([^"]+)"', page))
    assert "Picture missing" not in md and "Pictures missing" not in md
    # Every picture: a real PNG in the folder (a graph, not a blank), shown by both documents.
    assert sorted(p.name for p in (folder / "pictures").iterdir()) == sorted(PICTURES)
    for name in PICTURES:
        image = decoded((folder / "pictures" / name).read_bytes())
        assert image.size == (600, 260) and colours(image) > 3, name
        assert f"](pictures/{name})" in md
        assert f'src="pictures/{name}"' in page
    # One self-contained page: nothing loaded from elsewhere, no script.
    assert re.findall(r'src="(?!pictures/)', page) == []
    assert "<script" not in page and "<link" not in page
    # The bonus answers, from docs/EXERCISE.md.
    assert "yes, that is exactly how it is done here: the interval lives in the check's" in md
    assert "The gray band is the range the `basic` algorithm expects" in md
    assert "A service is a set of processes doing the same job" in md
    assert "This project uses Datadog as the acceptance test of the infrastructure code" in md
    # Each URL answered 404, then 403, then its PNG: asked three times, never again once it came.
    assert [snapshot["polls"] for snapshot in standin.snapshots.values()] == [3] * 12
    # The snapshot URL is not Datadog's API: no key goes there.
    assert standin.picture_headers and not any(
        "Dd-Api-Key" in h or "Dd-Application-Key" in h for h in standin.picture_headers)


def test_each_widget_is_snapshotted_over_5_minutes_and_an_hour_as_the_dashboard_draws_it(standin, written):
    asked = [(json.loads(c["graph_def"]), int(c["end"]) - int(c["start"]), c["title"])
             for c in standin.calls("GET", "/api/v1/graph/snapshot")]
    assert all(int(c["end"]) == int(NOW) for c in standin.calls("GET", "/api/v1/graph/snapshot"))
    service_scope = f"service:my-flask-app AND env:test AND ({BOTH_HOSTS})"
    expected = [
        ("my_metric per host", [(f"avg:my_metric{{{BOTH_HOSTS}}} by {{host}}", "line")]),
        ("PostgreSQL connections with anomalies()",
         [(f"anomalies(avg:postgresql.percent_usage_connections{{{BOTH_HOSTS}}} by {{host}}, 'basic', 2)", "line")]),
        ("my_metric summed per hour (rollup)",
         [(f"sum:my_metric{{{BOTH_HOSTS}}} by {{host}}.rollup(sum, 3600)", "bars")]),
        ("APM requests", [(f"sum:trace.flask.request.hits{{{service_scope}}} by {{resource_name}}.as_count()", "line")]),
        ("APM latency (p50, p95, p99)", [(f"{p}:trace.flask.request{{{service_scope}}} by {{resource_name}}", "line")
                                         for p in ("p50", "p95", "p99")]),
        ("Host CPU", [((f"avg:system.cpu.user{{({BOTH_HOSTS}) AND env:test}} by {{host}} + "
                        f"avg:system.cpu.system{{({BOTH_HOSTS}) AND env:test}} by {{host}}"), "line")]),
    ]
    assert asked == [
        ({"viz": "timeseries", "requests": [{"q": q, "type": kind} for q, kind in requests]}, seconds,
         f"{title}, {window} (stack test)")
        for title, requests in expected
        for seconds, window in ((300, "the past 5 minutes"), (3600, "the past hour"))]


def test_the_monitor_message_is_rendered_per_state_for_a_real_host(written):
    md = written[3]
    notify = "Notify: @ops@example.com @slack-alerts"
    # dd-assessment-test-0's my_metric points (the stand-in's: value (137 i) mod 1000 every 45 s
    # from NOW - 1350 s) in 5-minute buckets: 14:55 UTC holds i = 24..29 (288, 425, 562, 699,
    # 836, 973), average 630.5: a warning; 14:50 holds i = 17..23, average 3180 / 7 = 454.286:
    # below 500, a recovery. No bucket of the hour is above 800.
    assert (
        "**Alert**: value 630.5 at Wed 21 Oct 2026 10:55 EDT (14:55 UTC); no 5-minute average of this "
        "host was in this state's range in the past hour: shown with its latest one, so this "
        "notification was not sent, but its numbers are real\n\n```text\n"
        f"ALERT: my_metric on {H0} (10.42.1.10) averaged 630.5 over the last 5 minutes, above the "
        f"critical threshold of 800.\n\n{notify}\n```") in md
    assert (
        "**Warning**: value 630.5 at Wed 21 Oct 2026 10:55 EDT (14:55 UTC); this host's latest "
        "5-minute average in this state's range\n\n```text\n"
        f"WARNING: my_metric on {H0} (10.42.1.10) averaged 630.5 over the last 5 minutes, above the "
        f"warning threshold of 500 (critical at 800).\n\n{notify}\n```") in md
    assert (
        "**No Data**: no value: there was no data\n\n```text\n"
        f"NO DATA: {H0} (10.42.1.10) has not reported my_metric for 10 minutes. Check that the "
        f"Datadog Agent and its custom check are running on the host.\n\n{notify}\n```") in md
    assert (
        "**Recovery**: value 454.286 at Wed 21 Oct 2026 10:50 EDT (14:50 UTC); this host's latest "
        "5-minute average in this state's range\n\n```text\n"
        f"RECOVERED: my_metric on {H0} (10.42.1.10) is back to normal at 454.286.\n\n{notify}\n```") in md


def test_the_downtimes_next_windows_are_in_the_stacks_time_zone(written):
    md = written[3]
    # NOW is Wednesday 21 October 2026, 11:00 in New York.
    assert ("| 1 | Wed 21 Oct 2026 19:00 EDT | Thu 22 Oct 2026 09:00 EDT |\n"
            "| 2 | Thu 22 Oct 2026 19:00 EDT | Fri 23 Oct 2026 09:00 EDT |\n"
            "| 3 | Fri 23 Oct 2026 19:00 EDT | Sat 24 Oct 2026 09:00 EDT |") in md
    # verify's next_window takes a duration as elapsed time: 2 days from Saturday 31 October
    # 00:00 EDT end an hour before Monday's midnight once the clocks went back on 1 November.
    assert ("| 1 | Sat 24 Oct 2026 00:00 EDT | Mon 26 Oct 2026 00:00 EDT |\n"
            "| 2 | Sat 31 Oct 2026 00:00 EDT | Sun 01 Nov 2026 23:00 EST |\n"
            "| 3 | Sat 07 Nov 2026 00:00 EST | Mon 09 Nov 2026 00:00 EST |") in md
    assert "`FREQ=WEEKLY;INTERVAL=1;BYDAY=SU,MO,TU,WE,TH,FR` from `2026-10-18T19:00:00` for `14h`" in md


# ---- failures are shown, not hidden ---------------------------------------------------------

def test_a_failed_check_is_shown_as_failed(standin, ops_env, outputs_file, tmp_path, capsys):
    del standin.world.hosts[H1]  # its Agent stopped reporting
    folder = tmp_path / "report"
    code, lines, err = run(capsys, ops_env, "--outputs", str(outputs_file), "--into", str(folder))
    assert (code, err) == (1, "")
    assert lines[-1] == "report: 17 of 18 checks passed; 12 of 12 pictures"
    md = (folder / "report.md").read_text()
    assert (f"**17 of 18 checks passed; 1 FAILED** at Wed 21 Oct 2026 11:00 EDT (15:00 UTC). "
            f"Failed: host \\[{H1}\\].") in md
    assert f"| **FAIL** | host \\[{H1}\\] | a report within 5 min" in md
    page = (folder / "report.html").read_text()
    assert f"<td><strong>FAIL</strong></td>\n<td>host [{H1}]</td>" in page


def test_wait_first_waits_for_verify_to_pass_as_make_verify_does(standin, ops_env, outputs_file,
                                                                 tmp_path, capsys):
    missing = standin.world.hosts.pop(H1)
    fake = FakeClock(on_sleep=lambda _: standin.world.hosts.setdefault(H1, missing))
    folder = tmp_path / "report"
    code, _, err = run(capsys, ops_env, "--outputs", str(outputs_file), "--into", str(folder),
                       "--wait", "5", clock=fake.clock())
    assert code == 0
    assert fake.sleeps[0] == 30  # verify's --interval default, then the pictures' polling
    assert err.startswith("verify: 1 of 18 checks still failing; looking again in 30 s (5 min left):\n"
                          f"  FAIL  host [{H1}]")
    assert "**All 18 checks passed**" in (folder / "report.md").read_text()


def test_pictures_that_never_render_are_named_and_the_report_still_completes_in_time(
        standin, ops_env, outputs_file, tmp_path, capsys, monkeypatch):
    standin.snapshot_polls_before_ready = None  # Datadog never renders them
    monkeypatch.setattr(report, "FIRST_POLL_PAUSE", 0.1)
    folder = tmp_path / "report"
    started = time.monotonic()
    code = report.main(["--outputs", str(outputs_file), "--into", str(folder), "--pictures-wait", "1"],
                       env=ops_env, clock=Clock(now=lambda: NOW))
    took = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 1
    assert 1 <= took < 4, f"took {took:.1f} s with a 1 s bound"
    assert out.splitlines()[-1] == "report: 18 of 18 checks passed; 0 of 12 pictures"
    assert not (folder / "pictures").exists()
    md = (folder / "report.md").read_text()
    section = md.split("### Pictures missing\n\n")[1].split("\n\n")[0].splitlines()
    assert section == [
        f"- {report.t(title)}, {window}: not rendered within 1 s (its URL last answered 403 FORBIDDEN)"
        for title in ("my_metric per host", "PostgreSQL connections with anomalies()",
                      "my_metric summed per hour (rollup)", "APM requests",
                      "APM latency (p50, p95, p99)", "Host CPU")
        for window in ("the past 5 minutes", "the past hour")]
    assert md.count("> **Picture missing:**") == 14  # my_metric's two are shown in 1c and 2b
    assert "<h3 id=\"pictures-missing\">Pictures missing</h3>" in (folder / "report.html").read_text()
    assert err.splitlines()[0] == ("report: missing picture: my_metric per host, the past 5 minutes: "
                                   "not rendered within 1 s (its URL last answered 403 FORBIDDEN)")


def test_a_missing_dashboard_marks_its_pictures_missing_without_asking_datadog(
        standin, ops_env, outputs_file, tmp_path, capsys):
    del standin.world.dashboards[dd.SERVICE_DASHBOARD_ID]
    folder = tmp_path / "report"
    code, lines, _ = run(capsys, ops_env, "--outputs", str(outputs_file), "--into", str(folder))
    assert (code, lines[-1]) == (1, "report: 17 of 18 checks passed; 6 of 12 pictures")
    md = (folder / "report.md").read_text()
    assert "- APM requests, the past hour: no dashboard jkl-mno-pqr" in md
    assert "**The service dashboard `jkl-mno-pqr` was not found.**" in md
    assert len(standin.calls("GET", "/api/v1/graph/snapshot")) == 6


# ---- links, escaping, bad input --------------------------------------------------------------

def test_links_go_to_the_stacks_own_site(standin, ops_env, tmp_path, capsys):
    outputs = dd.outputs()
    outputs["datadogSite"] = "us5.datadoghq.com"
    for key in ("dashboardUrl", "serviceDashboardUrl"):
        outputs.pop(key)
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    folder = tmp_path / "report"
    run(capsys, ops_env, "--outputs", str(tmp_path / "outputs.json"), "--into", str(folder))
    md = (folder / "report.md").read_text()
    for path in ("/monitors/4242424", "/dashboard/abc-def-ghi", "/dashboard/jkl-mno-pqr",
                 "/apm/services/my-flask-app?env=test", "/infrastructure/map",
                 "/monitors/downtimes?id=9a3f2b10-0187-11ee-817a-da7ad0900002"):
        assert f"(<https://us5.datadoghq.com{path}>)" in md, path
    assert "app.datadoghq.com" not in md


def test_text_from_datadog_stays_text_in_the_html(standin, ops_env, outputs_file, tmp_path, capsys):
    standin.world.dashboards[dd.DASHBOARD_ID]["title"] = '<script>alert("x")</script> & <b>bold</b>'
    folder = tmp_path / "report"
    run(capsys, ops_env, "--outputs", str(outputs_file), "--into", str(folder))
    page = (folder / "report.html").read_text()
    assert "<script" not in page and "<b>" not in page
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;</a>' in page


def test_bad_pictures_wait_is_refused(outputs_file, ops_env, capsys):
    with pytest.raises(SystemExit) as exit_:
        report.main(["--outputs", str(outputs_file), "--pictures-wait", "0"], env=ops_env)
    assert exit_.value.code == 2
    assert ("argument --pictures-wait: '0' is out of range; use a number of seconds above 0 and at "
            "most 1800") in capsys.readouterr().err


def test_no_keys_is_one_line_and_nothing_is_written(outputs_file, tmp_path, capsys):
    code, lines, err = run(capsys, {"PATH": "/usr/bin"}, "--outputs", str(outputs_file),
                           "--into", str(tmp_path / "report"))
    assert (code, lines) == (2, [])
    assert err.startswith("report: cannot check: no Datadog key: DD_API_KEY (or the stack's "
                          "datadog:apiKey) and DD_APP_KEY")
    assert not (tmp_path / "report").exists()


# ---- the page in a real browser --------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
# Appended to a copy of the page, beside it, so its images resolve the same way: after `load`,
# every <img> with whether it decoded (complete with a width), as an attribute --dump-dom shows.
IMAGE_PROBE = """<script>
window.addEventListener("load", () => document.body.setAttribute("data-images", JSON.stringify(
  Array.from(document.images, i => [i.getAttribute("src"), i.complete && i.naturalWidth > 0]))));
</script>"""


def chromium(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed: make test installs it (tests/system-packages.txt)")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_page_opens_in_headless_chromium_with_every_image_loaded(written, tmp_path):
    folder, page = written[2], written[4]
    probe = folder / "probe.html"
    probe.write_text(page.replace("</body>", IMAGE_PROBE + "</body>"))
    done = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    found = re.search(r'data-images="([^"]*)"', done.stdout)
    assert found, f"the probe did not run; chromium said: {done.stderr[-2000:]}"
    images = json.loads(html.unescape(found.group(1)))
    assert len(images) == 14  # 12 pictures, my_metric's two shown twice
    assert sorted({src for src, _ in images}) == sorted(f"pictures/{name}" for name in PICTURES)
    assert [src for src, loaded in images if not loaded] == []


def test_a_screenshot_of_the_page_shows_the_report_and_its_graphs(written, tmp_path):
    folder = written[2]
    shot = tmp_path / "shot.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,3000",
                    (folder / "report.html").as_uri())
    assert shot.exists(), done.stderr[-2000:]
    image = decoded(shot.read_bytes())
    assert image.size == (1200, 3000)
    assert colours(image) > 50, "the screenshot is (nearly) one colour: a blank page"
    # The stand-in draws its first line in (31, 119, 180): its pixels on the page mean the graphs
    # themselves were painted, not just the text around them.
    blue = sum(count for count, (r, g, b) in image.getcolors(maxcolors=1 << 20)
               if abs(r - 31) < 12 and abs(g - 119) < 12 and abs(b - 180) < 12)
    assert blue > 200, f"only {blue} pixels of the graphs' blue in the screenshot"


def test_the_report_loads_no_pulumi_sdk():
    """ops never imports the Pulumi SDK: the report runs where only ops/requirements.txt is."""
    probe = ("import sys, ops.report as r, ops.datadog_api\n"
             "r.to_html('# x', 'x'); r.render_messages('{{host.name}}', 'h', '1.2.3.4', [], 500, 800)\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_datadog')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.stdout.strip() == "[]"
