#!/usr/bin/env bash
# The front door on a fresh machine: installs uv if needed, syncs the CLI's
# environment from uv.lock (a no-op when nothing changed), then runs
# `orchbench` with the arguments given. `./orchbench.sh demo`, `./orchbench.sh test`.
set -euo pipefail
cd "$(dirname "$0")"
export UV_PYTHON_DOWNLOADS=never  # use the machine's Python 3.11: uv must not download one

if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  if ! python3 -m uv --version >/dev/null 2>&1; then
    echo "orchbench: installing uv with pip …" >&2
    python3 -m pip install --quiet --disable-pip-version-check uv
  fi
  UV=(python3 -m uv)
fi
"${UV[@]}" sync --frozen --quiet --compile-bytecode  # as infra/envs.py SYNC_FLAGS, which says why
exec .venv/bin/orchbench "$@"
