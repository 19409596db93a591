#!/usr/bin/env bash
# Run the host-side tests (tests/host) in their own venv, <repo>/.venvs/host.
# The venv is (re)built only when its inputs change: tests/host/requirements.txt,
# app/requirements.txt (pulled in with -r) or the Python version. A stamp file
# in the venv records their hash. Extra arguments go to pytest (paths relative
# to the repo root; none given = all of tests/host).
#   HOST_TESTS_PYTHON  interpreter to build the venv with (default: python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
venv="${repo}/.venvs/host"
stamp="${venv}/.requirements.sha256"
python="${HOST_TESTS_PYTHON:-python3}"

want="$(
  {
    "${python}" -c 'import sys; print(sys.version)'
    cat "${here}/requirements.txt" "${repo}/app/requirements.txt"
  } | sha256sum | cut -d' ' -f1
)"
have="$(cat "${stamp}" 2>/dev/null || true)"

if [[ "${want}" != "${have}" ]]; then
  echo "run.sh: building ${venv} (requirements changed)" >&2
  start=${SECONDS}
  rm -rf "${venv}"
  "${python}" -m venv "${venv}"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
    --requirement "${here}/requirements.txt"
  echo "${want}" >"${stamp}"
  echo "run.sh: venv ready in $((SECONDS - start)) s" >&2
fi

# Paths are relative to the repo root. Without a path argument, run all of tests/host.
cd "${repo}"
targets=("${here}")
for arg in "$@"; do
  if [[ "${arg}" != -* && -e "${arg%%::*}" ]]; then
    targets=()
    break
  fi
done
exec "${venv}/bin/python" -m pytest -c "${here}/pytest.ini" --rootdir "${here}" \
  "${targets[@]}" "$@"
