#!/usr/bin/env bash
# Installs what the code-server e2e suite needs on a fresh Debian machine (run as root, as CI does); idempotent:
# every step is skipped when its result is already there. See shared/notes/real-vscode-e2e.md for the why.
#   - Debian packages: libkrb5-dev (headers for code-server's `kerberos` module), ripgrep, chromium, and
#     fonts-noto-color-emoji (so screenshots show the output channel's emoji instead of boxes).
#   - Node 22 (the npm registry's `node` package) into .vscode-test/node-22/: code-server >= 4.104 refuses Node 20.
#   - A tarball of Debian's rg where @vscode/ripgrep@1.15.14's postinstall looks before downloading from GitHub.
#   - code-server@4.104.0 (= VS Code 1.104.0, the first with the language-model chat provider API) into
#     .vscode-test/code-server-4.104.0/ (git-ignored, ~320 MB), installed and built under that Node 22: never a
#     project dependency. test/e2e/codeServer.ts names the same two folders.
set -euo pipefail
cd "$(dirname "$0")/../.."

CODE_SERVER_VERSION=4.104.0
NODE_MAJOR=22
RIPGREP_PKG_VERSION=1.15.14
RIPGREP_ASSET=ripgrep-v13.0.0-13-x86_64-unknown-linux-musl.tar.gz
PREFIX=.vscode-test/code-server-$CODE_SERVER_VERSION
NODE_PREFIX=.vscode-test/node-$NODE_MAJOR
NODE_BIN=$NODE_PREFIX/node_modules/node/bin

log() { printf '[e2e setup] %s\n' "$*"; }
started=$SECONDS

# 1. Debian packages.
missing=()
for pkg in libkrb5-dev ripgrep chromium fonts-noto-color-emoji; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "[e2e setup] missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# 2. Node 22 for code-server (the `node` package's postinstall puts the binary in node_modules/node/bin).
NODE_STAMP=$NODE_PREFIX/.installed
if [[ -x $NODE_BIN/node && -f $NODE_STAMP ]]; then
  log "Node $("$NODE_BIN/node" --version) present in $NODE_PREFIX"
else
  log "npm install node@${NODE_MAJOR} into $NODE_PREFIX"
  mkdir -p "$NODE_PREFIX"
  npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error "node@${NODE_MAJOR}"
  if ! "$NODE_BIN/node" --version | grep -q "^v${NODE_MAJOR}\."; then
    echo "[e2e setup] Node ${NODE_MAJOR} did not install: $NODE_BIN/node is missing or another version" >&2
    exit 1
  fi
  touch "$NODE_STAMP"
fi

# 3. code-server, with the ripgrep cache its @vscode/ripgrep postinstall reads instead of GitHub.
# The stamp is written only after a complete install, so an interrupted one is redone.
STAMP=$PREFIX/.installed-$CODE_SERVER_VERSION
if [[ -x $PREFIX/node_modules/.bin/code-server && -f $STAMP ]]; then
  log "code-server present in $PREFIX"
else
  cache_dir="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-${RIPGREP_PKG_VERSION}"
  if [[ ! -s $cache_dir/$RIPGREP_ASSET ]]; then
    log "caching /usr/bin/rg as $cache_dir/$RIPGREP_ASSET"
    mkdir -p "$cache_dir"
    tmp="$cache_dir/.$RIPGREP_ASSET.$$"
    tar -czf "$tmp" -C /usr/bin rg
    mv "$tmp" "$cache_dir/$RIPGREP_ASSET"
  fi
  log "npm install code-server@${CODE_SERVER_VERSION} into $PREFIX"
  mkdir -p "$PREFIX"
  # Its own install scripts must run (code-server's postinstall installs VS Code's modules and builds the native
  # ones); say so in the folder's package.json, and keep npm's unreviewed-scripts policy a warning for the
  # nested `npm install` that postinstall runs in lib/vscode.
  cat >"$PREFIX/package.json" <<'JSON'
{
  "private": true,
  "description": "code-server for the e2e tests, installed by test/e2e/setup.sh",
  "allowScripts": { "code-server": true, "argon2": true }
}
JSON
  # unsafe_perm: its postinstall refuses root otherwise; yes: node-pty's postinstall runs `npx node-gyp`.
  # Node 22 first on PATH: npm, code-server's postinstall and node-gyp then build the native modules for it.
  # Run from `npm test`, the outer npm's user agent (naming Node 20) is inherited as config, and code-server's
  # postinstall reads the Node version from it: the inner npm must make its own.
  env -u npm_config_user_agent -u npm_node_execpath -u NODE \
    PATH="$PWD/$NODE_BIN:$PATH" npm_config_yes=true npm_config_unsafe_perm=true npm_config_strict_allow_scripts=false \
    npm install --prefix "$PREFIX" --save-exact --no-audit --no-fund --loglevel=error \
    "code-server@${CODE_SERVER_VERSION}"
  if [[ ! -x $PREFIX/node_modules/.bin/code-server ]]; then
    echo "[e2e setup] code-server did not install: $PREFIX/node_modules/.bin/code-server is missing" >&2
    exit 1
  fi
  touch "$STAMP"
fi

# (Reading the version from package.json: `code-server --version` would write ~/.config/code-server/config.yaml.)
version=$(node -p "require('./$PREFIX/node_modules/code-server/package.json').version")
log "code-server $version ready in $((SECONDS - started)) s"
