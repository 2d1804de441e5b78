#!/usr/bin/env bash
# The multi-host pool rig (docs/operate.md, "Multi-host rig"): hosts as network namespaces on
# one bridge, TLS between services, state on its own PostgreSQL. Needs root.
#   scripts/multihost.sh up                         build it and leave it running
#   scripts/multihost.sh test [--tasks N] [--json]   build, run a deal under faults, report, remove
#   scripts/multihost.sh down                       remove everything it made
# `test` removes the rig on every exit (the trap), even when interrupted or failed.
set -euo pipefail
cd "$(dirname "$0")/.."
command="${1:-}"
case "$command" in
  up|down) exec uv run --frozen python -m tests.multihost "$@" ;;
  test)
    trap 'uv run --frozen python -m tests.multihost down >/dev/null 2>&1 || true' EXIT INT TERM
    timeout --signal=TERM --kill-after=30 1500 uv run --frozen python -m tests.multihost "$@"
    ;;
  *) echo "usage: scripts/multihost.sh up|test|down [--tasks N] [--json]" >&2; exit 2 ;;
esac
