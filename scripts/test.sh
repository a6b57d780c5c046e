#!/usr/bin/env bash
# The whole suite: lint, migrations and deploy checks, then pytest on SQLite and on
# PostgreSQL (with Redis for the Celery tests). In CI (CI=true) the services must be
# reachable; elsewhere the PostgreSQL run is skipped with a printed reason.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/registry}
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
export REGISTRY_DATA_DIR=${REGISTRY_TEST_DATA_DIR:-$(pwd)/data/test}
$BIN/python -m registry_site.prepare > /dev/null

echo "== ruff"
$BIN/ruff check .
$BIN/ruff format --check .
echo "== mypy"
$BIN/mypy .
echo "== migrations"
$BIN/python manage.py makemigrations --check --dry-run
echo "== check --deploy"
./scripts/deploy_check.sh

./scripts/system_packages.sh
echo "== pytest on SQLite"
DATABASE_URL="sqlite:///$REGISTRY_DATA_DIR/registry.sqlite3" $BIN/pytest -p no:cacheprovider "$@"

if $BIN/python scripts/reachable.py "$PG_URL"; then
  echo "== pytest on PostgreSQL"
  DATABASE_URL="$PG_URL" $BIN/pytest -p no:cacheprovider "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL at $PG_URL is not reachable, and CI requires it." >&2
  exit 1
else
  echo "== SKIPPED pytest on PostgreSQL: no server reachable at $PG_URL"
fi
