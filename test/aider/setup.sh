#!/usr/bin/env bash
# Installs Aider (aider-chat from PyPI, with every dependency at the exact version of test/aider/requirements.lock)
# into a virtual environment of its own, for test/loop/aider.test.ts, which drives it against the gateway; idempotent.
# Its own environment, not the tests' torch one: Aider pins its dependencies exactly, and they must not move the
# training stack's versions (or the other way round).
#
# The environment lives outside the work tree, in a cache folder named by a hash of the lock and the Python version,
# so a second clone, a `git clean` or the next CI run on the same machine reuses it:
#   ${AGENT_LEARNING_CACHE:-$HOME/.cache/agent-learning}/aider/<python>-<hash>
# About 690 MB installed; 1 to 3 minutes cold here (52 s, 107 s and 157 s measured on 2 shared cores), nothing
# when cached. The Aider test itself then takes about 35 s.
#
# Prints the `aider` executable as its last line. AGENT_LEARNING_AIDER, when set, is used as is instead.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '[aider setup] %s\n' "$*" >&2; }

if [[ -n ${AGENT_LEARNING_AIDER:-} ]]; then
  log "using AGENT_LEARNING_AIDER=$AGENT_LEARNING_AIDER"
  echo "$AGENT_LEARNING_AIDER"
  exit 0
fi

LOCK=test/aider/requirements.lock
BASE_PYTHON=${PYTHON:-python3}
version=$("$BASE_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# aider-chat 0.86.2 says Requires-Python: >=3.10,<3.13.
if ! "$BASE_PYTHON" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] < (3, 13)))'; then
  log "$BASE_PYTHON is Python $version; aider-chat 0.86.2 needs 3.10 to 3.12. Set PYTHON to one of those."
  exit 1
fi
hash=$({ cat "$LOCK"; echo "$version"; } | sha256sum | cut -c1-16)
cache=${AGENT_LEARNING_CACHE:-$HOME/.cache/agent-learning}/aider
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
  # --no-deps: the lock is the whole environment, so nothing unpinned can slip in; `pip check` proves it complete.
  "$env_dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --require-virtualenv \
    --no-deps -r "$LOCK"
  "$env_dir/bin/python" -m pip check --disable-pip-version-check >&2
  # The stamp is written only after a complete install, so an interrupted one is redone.
  date -u +%FT%TZ >"$stamp"
  log "installed in $((SECONDS - started)) s, $(du -sh "$env_dir" | cut -f1)"
fi

echo "$env_dir/bin/aider"
