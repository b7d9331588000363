#!/usr/bin/env bash
# Set up (idempotent) and run the curation flow on the embedded default: the demo corpus
# and the packaged all-MiniLM-L6-v2 model. Extra arguments go to `curate run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/curate run --config configs/demo.toml --out reports/demo "$@"
