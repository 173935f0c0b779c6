#!/usr/bin/env bash
# Builds the real Ollama servers the deploy tests run against, from Ollama's Go module, into a per-version cache
# outside the work tree; idempotent: a version whose stamp says it was built the same way is not built again. Needs Go
# (go.mod asks for 1.26.0) and gcc (cgo: go-sqlite3). See shared/notes/real-peers.md.
# What this build is not: from 0.34.0 on, Ollama runs every GGUF model in a separate `llama-server` that its CMake
# build fetches from llama.cpp's Git repository (llama/server), which `go install` does not build and this machine
# cannot fetch. So these servers create, list, show, copy and delete models, but /api/generate answers 500 "error
# starting llama-server: llama-server binary not found"; and 0.34.0's `ollama create FROM ./model.gguf` fails with
# "failed to validate GGUF with llama-quantize without compatibility patches: llama-quantize unavailable" (0.34.4's
# does not validate). The deploy tests check everything up to loading the model.
#   - 0.34.0: the last release whose `ollama create` accepts `ADAPTER` (deploy's adapter path).
#   - OLLAMA_NEWEST: the newest release the Go module proxy serves (deploy's merged path). Found by asking the proxy
#     for each tag in turn with `go list -m -json github.com/ollama/ollama@vX.Y.Z`, because `go list -m -versions`
#     lists only some of them (it stops at v0.17.4): v0.34.1 … v0.34.4 answer; v0.34.5 … v0.34.10, v0.35.0 …
#     v0.35.3, v0.36.x … v0.50.0, v1.0.0 and their -rc tags answer "403 This module version is not available".
#     Probe again, upward from this one, when moving it on.
# Prints the binaries' paths; test/support/realOllama.ts finds them at the same place.
set -euo pipefail

OLLAMA_ADAPTER_VERSION=0.34.0
OLLAMA_NEWEST=0.34.4
CACHE=${AGENT_LEARNING_CACHE:-$HOME/.cache/agent-learning}/ollama

log() { printf '[ollama setup] %s\n' "$*"; }

for tool in go gcc; do
  if ! command -v "$tool" >/dev/null; then
    echo "[ollama setup] $tool is missing: Ollama's Go module needs Go >= 1.26.0 and gcc (cgo)" >&2
    exit 1
  fi
done

build() {
  local version=$1 dir=$CACHE/$1
  local stamp=$dir/.built
  # The version stamped in as Ollama's release builds do (.github/workflows/release.yaml): without it the server
  # says "0.0.0" on /api/version, and server.mode=release turns off gin's debug log of every route.
  local ldflags="-X=github.com/ollama/ollama/version.Version=$version -X=github.com/ollama/ollama/server.mode=release"
  local recipe="go install -ldflags='$ldflags' github.com/ollama/ollama@v$version"
  if [[ -x $dir/ollama && -f $stamp && $(<"$stamp") == "$recipe" ]]; then
    log "ollama $version present in $dir"
    return
  fi
  log "$recipe into $dir (a minute or more)"
  local started=$SECONDS
  rm -rf "$dir"
  mkdir -p "$dir"
  # GOBIN per version: both builds install a binary named `ollama`. GOFLAGS is cleared so a -mod or -tags of the
  # caller's cannot change what is built; cgo for go-sqlite3.
  GOBIN=$dir GOFLAGS= CGO_ENABLED=1 go install -ldflags="$ldflags" "github.com/ollama/ollama@v$version"
  if [[ ! -x $dir/ollama ]]; then
    echo "[ollama setup] go install finished but $dir/ollama is missing" >&2
    exit 1
  fi
  # The stamp only after a complete build, so an interrupted one is redone; it holds the recipe, so a changed one is.
  printf '%s' "$recipe" >"$stamp"
  log "ollama $version built in $((SECONDS - started)) s ($(du -h "$dir/ollama" | cut -f1))"
}

build "$OLLAMA_ADAPTER_VERSION"
build "$OLLAMA_NEWEST"
printf '%s\n' "$CACHE/$OLLAMA_ADAPTER_VERSION/ollama" "$CACHE/$OLLAMA_NEWEST/ollama"
