#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh), starts the services the tests need, runs the
# format/lint/type/import checks, then the whole default test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
echo "== ruff format --check"; uv run --frozen ruff format --check src tests benchmarks
echo "== ruff check";          uv run --frozen ruff check src tests benchmarks
echo "== mypy (strict)";       uv run --frozen mypy
echo "== import-linter";       uv run --frozen lint-imports
echo "== pytest"
uv run --frozen pytest -p no:cacheprovider "$@"
