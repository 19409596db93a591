"""`make snapshot` against the local Datadog stand-in: the snapshot asked for, the event's text
(the @-mentions that notify), the links printed, and bad input (exit 2, one line)."""

from __future__ import annotations

import json

from ops import snapshot
from tests import datadog_standin as dd
from tests.datadog_standin import HOSTS, NOW

H0, H1 = HOSTS


def run(capsys, env, *args) -> tuple[int, list[str], str]:
    code = snapshot.main(list(args), env=env, now=lambda: NOW)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_posts_the_snapshot_as_an_event_that_mentions_every_handle(standin, ops_env, outputs_file, capsys):
    code, lines, err = run(capsys, ops_env, "--outputs", str(outputs_file))
    assert (code, err) == (0, "")
    assert lines == [
        "snapshot: https://app.datadoghq.com/s/f12345678/aaa-bbb-ccc",
        "event:    https://app.datadoghq.com/event/event?id=6327818702635911562 "
        "(notifies @ops@example.com @slack-alerts)"]
    assert standin.calls("GET", "/api/v1/graph/snapshot") == [{
        "metric_query": f"avg:my_metric{{host:{H0} OR host:{H1}}} by {{host}}",
        "start": str(int(NOW) - 300), "end": str(int(NOW)),
        "title": "my_metric per host, past 5 minutes (stack test)"}]
    (event,) = standin.events
    assert event == {
        "title": "my_metric per host, past 5 minutes (stack test)",
        "alert_type": "snapshot",
        "tags": ["stack:test"],
        "text": "%%% \n"
                f"Snapshot of my_metric per host ({H0}, {H1}) over the past 5 minutes, stack test.\n\n"
                "![my_metric per host](https://app.datadoghq.com/s/f12345678/aaa-bbb-ccc)\n\n"
                "https://app.datadoghq.com/s/f12345678/aaa-bbb-ccc\n\n"
                "@ops@example.com @slack-alerts\n %%%",
    }


def test_outputs_without_notify_handles(ops_env, tmp_path, capsys):
    outputs = dd.outputs()
    del outputs["notifyHandles"]
    (tmp_path / "old.json").write_text(json.dumps(outputs))
    code, lines, err = run(capsys, ops_env, "--outputs", str(tmp_path / "old.json"))
    assert (code, lines) == (2, [])
    assert err == (f"snapshot: cannot check: the outputs file {tmp_path / 'old.json'}: no "
                   "notifyHandles; after `make up`, rewrite it with `pulumi stack output --json "
                   f"--show-secrets > {tmp_path / 'old.json'}`\n")


def test_keys_datadog_refuses(standin, ops_env, outputs_file, capsys):
    ops_env["DD_APP_KEY"] = "0" * 40
    code, lines, err = run(capsys, ops_env, "--outputs", str(outputs_file))
    assert (code, lines, standin.events) == (2, [], [])
    assert err.startswith("snapshot: cannot check: Datadog refused GET /api/v1/graph/snapshot (403: Forbidden)")
