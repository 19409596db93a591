"""Fixtures for the host-side tests. Run them with tests/host/run.sh, which builds the
venv they need (<repo>/.venvs/host); under another venv the modules that need its
packages skip themselves."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# Lets the test modules `import hostlib` whatever pytest's import mode.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from hostlib import VENV_BIN


@pytest.fixture(scope="session")
def clean_env() -> dict[str, str]:
    """The environment minus any Datadog settings inherited from the shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "OTEL_"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env
