#!/usr/bin/env bash
# Debian's Chromium for the webview tests: playwright-core drives it and never downloads a browser of its own.
# Idempotent; installing needs root (as CI has).
set -euo pipefail
if command -v chromium >/dev/null; then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then
  echo "Chromium is missing: run 'apt-get install chromium' as root (Debian's package)." >&2
  exit 1
fi
echo "[webview setup] apt-get install chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
