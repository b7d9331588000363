#!/usr/bin/env bash
# Run the test suite offline on CPU (sets up .venv first if needed). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false OMP_WAIT_POLICY=PASSIVE
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=90 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest "$@"
