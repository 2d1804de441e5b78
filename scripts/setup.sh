#!/usr/bin/env bash
# Installs everything sealrun needs on a fresh Debian machine, idempotently:
# Debian packages (age, bubblewrap, chromium for the explorer's browser tests: Playwright
# drives Debian's build, never a downloaded one), uv, the locked Python environment in .venv,
# and the npm tools in tools/node (anvil, @metamask/eth-sig-util).
# Set SEALRUN_SETUP_EXTRAS="blender" to also install the Debian packages of marked tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in "age:age" "bwrap:bubblewrap" "chromium:chromium" ${SEALRUN_SETUP_EXTRAS:+"blender:blender"}; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "setup: installing uv" >&2
  python3 -m pip install -q uv
fi
uv sync --frozen --quiet

# A worktree's node_modules may be a link to another checkout's install: `npm ci` would empty
# that install through the link (it did once, for every worktree sharing it), so a link is used
# as it is, never reinstalled from here.
if [ -f tools/node/package-lock.json ] && [ ! -L tools/node/node_modules ] && command -v npm >/dev/null 2>&1; then
  if [ ! -d tools/node/node_modules ] || [ tools/node/package-lock.json -nt tools/node/node_modules ]; then
    echo "setup: installing npm tools (anvil, eth-sig-util)" >&2
    (cd tools/node && npm ci --no-audit --no-fund --silent)
  fi
fi
