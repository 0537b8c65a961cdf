#!/usr/bin/env bash
# Install everything the tests need, then run lint, types and the whole test suite.
# Used as is by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    # The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    fi
fi
# torch first, pinned, so nothing pulls the multi-GB CUDA build.
python -m pip install -q torch==2.13.0
python -m pip install -q -e ".[test]"

python -m ruff check .
python -m ruff format --check .
python -m mypy
python -m mypy bench/app.py bench/load.py bench/api.py  # their own run: see [tool.mypy] in pyproject.toml
python -m pytest
