#!/usr/bin/env bash
# Builds the CPU benchmark's worker with the engine of another commit, so that
# two builds can be measured side by side in one run:
#   bash test/bench/build-worker.sh HEAD~1 /tmp/before.js
#   node esbuild.js --bench && node dist/bench/main.js --cpu-only --compare before=/tmp/before.js
# The worker and its harness come from the working tree; only src/ is the commit's.
set -euo pipefail
ref=$1
out=$(realpath -m "$2")
root=$(git rev-parse --show-toplevel)
tree=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tree"' EXIT
git -C "$root" worktree add --detach -q "$tree" "$ref"
cp "$root/test/bench/cpu-worker.ts" "$root/test/bench/cpu.ts" "$tree/test/bench/"
ln -s "$root/node_modules" "$tree/node_modules"
"$root/node_modules/.bin/esbuild" --bundle --log-level=warning --platform=node --format=cjs --target=node20 \
  "$tree/test/bench/cpu-worker.ts" --outfile="$out"
