#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh) and runs the main job: `sealrun demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec uv run --frozen sealrun demo "$@"
