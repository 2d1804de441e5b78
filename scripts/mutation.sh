#!/usr/bin/env bash
# Mutation testing of the security core (scripts/mutation.py; not part of the default suite).
#
#   scripts/mutation.sh                      # CI tier: mutants on lines changed since origin/main
#   scripts/mutation.sh --full               # every mutant of every package (hours on 2 cores)
#   scripts/mutation.sh core/requests --shard 1/4 --max-mutants 200
#
# Prints the kill rate per package and the survivors; --fail-under 90 makes it a gate.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--full" ]]; then
    shift
    exec uv run --frozen python scripts/mutation.py "$@"
fi
if [[ $# -eq 0 ]]; then
    base="$(git merge-base HEAD "${SEALRUN_MUTATION_BASE:-main}")"
    exec uv run --frozen python scripts/mutation.py --changed-since "$base" --max-mutants 60 --fail-under 90
fi
exec uv run --frozen python scripts/mutation.py "$@"
