#!/usr/bin/env bash
# Every GPU figure of issue 17 in one command, each next to its baseline from the same run:
# embedding 200k texts (SentenceTransformer.encode vs the project's loop), exact all pairs
# >= 0.8 over 1M x 384 (plain blockwise fp32 vs the project), LoRA r16 at seq 1024 at the 1.1B
# and 7B shapes (transformers+PEFT vs the project, tokens/s and MFU), and the contamination
# stage where its dependencies are present (else skipped, with the reason). At most about
# 7.5 minutes on an H100/H200: each section has its own budget (bench/gpu_check.py, BUDGETS);
# one that fails or runs out prints why, and the others still run. Prints a table; writes
# $OUT/gpu_check.json when OUT is set (or --json PATH).
#
# On a GPU machine with torch, transformers, peft, sentence-transformers (no polars, faiss,
# pydantic, prefect or datasets needed, no network, no model weights: random weights of the
# real shapes, the real tokenizer files):
#
#   1. where the project is installed (once):   bench/gpu_check.sh --prepare
#      copies the MiniLM tokenizer and config files (0.7 MB) to reports/gpu_check_assets/
#   2. on the GPU machine, from the repository root, with reports/gpu_check_assets copied along:
#        bash bench/gpu_check.sh
#      With this workplace's device tool: run(command="bash bench/gpu_check.sh",
#      carry=["reports/gpu_check_assets"], timeout_s=540)
#
#   bench/gpu_check.sh --smoke    the same code at tiny sizes on CPU (a minute or two);
#                                 tests/bench/test_gpu_check.py runs it
#   bench/gpu_check.sh --sections embed,pairs   some sections only
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true OMP_WAIT_POLICY=PASSIVE
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=${PYTHON:-python3}; fi
if [[ -n "${OUT:-}" ]]; then  # the whole log comes back with the JSON
  mkdir -p "$OUT"
  "$PY" bench/gpu_check.py "$@" 2>&1 | tee "$OUT/gpu_check.log"
else
  exec "$PY" bench/gpu_check.py "$@"
fi
