#!/usr/bin/env bash
# Run the test suite offline on CPU (sets up .venv first if needed). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The browser tests (tests/review/test_report_browser.py) drive Debian's Chromium with Playwright;
# install it once where apt-get can (they skip, saying why, where it is still missing).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
  echo "test: installing chromium for the browser tests (apt-get)" >&2
  { "${as_root[@]}" apt-get update -qq \
    && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       chromium fonts-liberation fonts-dejavu-core >/dev/null; } \
    || echo "test: could not install chromium; the browser tests will be skipped" >&2
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false OMP_WAIT_POLICY=PASSIVE
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=90 TOKENIZERS_PARALLELISM=false
# The architecture and lint checks are part of green: the layer contracts in pyproject.toml
# ([tool.importlinter]) and ruff.
echo "test: ruff check" >&2
.venv/bin/ruff check --quiet .
echo "test: lint-imports (layer contracts, no cycles)" >&2
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
