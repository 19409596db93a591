#!/usr/bin/env bash
# make e2e-hosts: the test hosts' own tests (tests/e2e/hosts), as root on Linux, in their own venv
# <repo>/.venvs/e2e-hosts (rebuilt when requirements.txt or the Python version changes). Prints
# its figures (host start, boot, image build) at the end. Extra arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../../.." && pwd)"
venv="${repo}/.venvs/e2e-hosts"
want="$({ python3 -c 'import sys; print(sys.version)'; cat "${here}/requirements.txt"; } | sha256sum)"
if [[ "$(cat "${venv}/.requirements.sha256" 2>/dev/null)" != "${want}" ]]; then
  echo "e2e-hosts: building ${venv}" >&2
  rm -rf "${venv}"
  python3 -m venv "${venv}"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${here}/requirements.txt"
  echo "${want}" >"${venv}/.requirements.sha256"
fi
cd "${repo}"
exec "${venv}/bin/python" -m pytest -c "${here}/pytest.ini" --rootdir "${here}" "${here}" "$@"
