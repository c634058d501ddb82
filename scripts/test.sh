#!/usr/bin/env bash
# The test command: a venv with memwise and its test dependencies, the linters (ruff, mypy: any
# finding fails the run), the servers, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,local]"
.venv/bin/python -m ruff check src tests bench examples
.venv/bin/python -m mypy
bash scripts/services.sh
exec .venv/bin/python -m pytest "$@"
