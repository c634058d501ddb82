#!/usr/bin/env bash
# The test command: a venv with memwise and its test dependencies, the servers, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,local]"
bash scripts/services.sh
exec .venv/bin/python -m pytest "$@"
