#!/usr/bin/env bash
# Creates the Python environment the real-library tests need (torch, transformers, PEFT, accelerate, safetensors,
# tokenizers at the exact versions of python/requirements.lock) and links it as .venv (git-ignored); idempotent.
#
# The environment lives outside the work tree, in a cache folder named by a hash of the lock and the Python
# version, so a second clone, a `git clean` or the next CI run on the same machine reuses it:
#   ${AGENT_LEARNING_CACHE:-$HOME/.cache/agent-learning}/python/<hash>
# PyPI's Linux torch wheel is a CUDA build that imports only with NVIDIA's libraries beside it, so those come too
# (about 5.6 GB installed, 1.5 to 3 minutes cold here); the CPU-only wheels are on pytorch.org, not PyPI. Nothing
# in it needs a GPU: the tests run on the CPU.
#
# Prints the environment's python as its last line. AGENT_LEARNING_PYTHON, when set, is used as is instead.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '[python setup] %s\n' "$*" >&2; }

if [[ -n ${AGENT_LEARNING_PYTHON:-} ]]; then
  log "using AGENT_LEARNING_PYTHON=$AGENT_LEARNING_PYTHON"
  echo "$AGENT_LEARNING_PYTHON"
  exit 0
fi

LOCK=python/requirements.lock
BASE_PYTHON=${PYTHON:-python3}
version=$("$BASE_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
hash=$({ cat "$LOCK"; echo "$version"; } | sha256sum | cut -c1-16)
cache=${AGENT_LEARNING_CACHE:-$HOME/.cache/agent-learning}/python
env_dir=$cache/py$version-$hash
stamp=$env_dir/.installed

if [[ -f $stamp ]]; then
  log "environment present: $env_dir"
else
  started=$SECONDS
  log "creating $env_dir from $LOCK (python $version)"
  rm -rf "$env_dir"
  mkdir -p "$cache"
  "$BASE_PYTHON" -m venv "$env_dir"
  "$env_dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --require-virtualenv \
    -r "$LOCK"
  # The stamp is written only after a complete install, so an interrupted one is redone.
  date -u +%FT%TZ >"$stamp"
  log "installed in $((SECONDS - started)) s, $(du -sh "$env_dir" | cut -f1)"
fi

ln -sfn "$env_dir" .venv
echo "$PWD/.venv/bin/python"
