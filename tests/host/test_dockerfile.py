"""app/Dockerfile: hadolint-clean, and the properties the deployment relies on."""

from __future__ import annotations

import re
import subprocess

from hostlib import (
    APP_DIR,
    DOCKERFILE,
    dockerfile_cmd,
    only,
    parse_dockerfile,
    venv_tool,
)


def test_hadolint_reports_nothing():
    result = subprocess.run(
        [
            venv_tool("hadolint"),
            "--no-color",
            "--failure-threshold",
            "style",
            str(DOCKERFILE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "", (
        result.stdout + result.stderr
    )


def test_base_image_pinned_to_exact_python_tag():
    image = only(parse_dockerfile(), "FROM").args.split()[0]
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+", image), image


def test_runs_as_non_root_numeric_user():
    user = only(parse_dockerfile(), "USER").args
    assert user.isdigit() and int(user) != 0, user


def test_healthcheck_and_cmd_use_exec_form():
    instructions = parse_dockerfile()
    assert "CMD [" in only(instructions, "HEALTHCHECK").args
    assert dockerfile_cmd()[:2] == ["ddtrace-run", "gunicorn"]


def test_no_datadog_settings_baked_into_image():
    """DD_* and the unified-service-tagging labels are set on the container at deploy time."""
    for ins in parse_dockerfile():
        assert not (ins.keyword in ("ENV", "ARG") and "DD_" in ins.args), ins
        assert ins.keyword != "LABEL", ins


def test_pip_installs_without_cache_from_pinned_requirements():
    runs = [
        i.args
        for i in parse_dockerfile()
        if i.keyword == "RUN" and "pip install" in i.args
    ]
    assert runs and all("--no-cache-dir" in r for r in runs), runs
    for line in (APP_DIR / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.\-+]+", line), line


def test_dockerignore_keeps_every_copied_file():
    ignore = (APP_DIR / ".dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in ignore if p.strip() and not p.startswith("#")]
    assert patterns[0] == "*", "allow-list style .dockerignore"
    allowed = {p[1:] for p in patterns[1:] if p.startswith("!")}
    for ins in parse_dockerfile():
        if ins.keyword == "COPY":
            *sources, _dest = [a for a in ins.args.split() if not a.startswith("--")]
            for src in sources:
                assert src in allowed, f"{src} is COPY'd but excluded by .dockerignore"
                assert (APP_DIR / src).is_file(), src
