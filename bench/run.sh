#!/usr/bin/env bash
# Catalog benchmark, end to end: a fresh PostgreSQL database and data folder, a
# seeded catalog (10,000 groups, 100,000 versions), the production web server
# (gunicorn gthread), latency over keep-alive HTTP, RSS during a 1 GiB upload.
# Everything it creates is removed on exit. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
PY="$BIN/python"
BENCH="$PY bench/catalog_bench.py"

PG=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-registry_bench}  # dropped and recreated: its name must end in "bench"
export DATABASE_URL="$PG/$DB"
# e.g. BENCH_PG_OPTIONS='-c random_page_cost=1.1': libpq options for the server's connections
if [ -n "${BENCH_PG_OPTIONS:-}" ]; then
  DATABASE_URL="$DATABASE_URL?options=$($PY -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$BENCH_PG_OPTIONS")"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/registry-bench.XXXXXX")
export REGISTRY_DATA_DIR="$WORK/data"
$PY -m registry_site.prepare > /dev/null
export REGISTRY_MAX_ARTIFACT_SIZE=3GiB
export DJANGO_SETTINGS_MODULE=registry_site.settings
export DJANGO_DEBUG=false
export LOG_LEVEL=WARNING
export PYTHONUNBUFFERED=1
SERVER_PID=""

cleanup() {
  status=$?
  trap - EXIT INT TERM
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  $BENCH db drop >/dev/null 2>&1 || echo "[bench] could not drop $DB" >&2
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
echo "[bench] work folder $WORK" >&2
$BENCH db create
$PY manage.py migrate --noinput --verbosity 0
$BENCH seed "$WORK/state.json"
$BENCH huge "$WORK/state.json" "$WORK/huge.onnx"

PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
$PY -m gunicorn registry_site.wsgi:application \
  --worker-class gthread --workers 2 --threads 4 \
  --timeout 600 --graceful-timeout 10 \
  --bind "127.0.0.1:$PORT" --error-logfile "$WORK/gunicorn.log" &
SERVER_PID=$!

healthy() {
  $PY -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('$URL/healthz', timeout=2).status != 200)" 2>/dev/null
}
for _ in $(seq 1 120); do
  healthy && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "[bench] gunicorn exited:" >&2
    cat "$WORK/gunicorn.log" >&2
    exit 1
  fi
  sleep 0.25
done
if ! healthy; then
  echo "[bench] gunicorn did not answer /healthz at $URL:" >&2
  tail -n 50 "$WORK/gunicorn.log" >&2
  exit 1
fi
echo "[bench] gunicorn (gthread, 2 workers x 4 threads) at $URL, master pid $SERVER_PID" >&2

set +e
$BENCH measure "$WORK/state.json" "$URL" "$SERVER_PID"
measured=$?
set -e
if [ "$measured" -ne 0 ] && [ "$measured" -ne 3 ]; then
  echo "[bench] measurement failed; gunicorn log:" >&2
  tail -n 50 "$WORK/gunicorn.log" >&2
  exit "$measured"
fi

if [ -n "${BENCH_RESULTS:-}" ] && [ -f "$WORK/results.json" ]; then
  cp "$WORK/results.json" "$BENCH_RESULTS"
fi

if [ "${BENCH_DIAGNOSE:-1}" = "1" ]; then
  $BENCH diagnose "$WORK/state.json" || echo "[bench] diagnostics failed (figures above stand)" >&2
fi
if [ "${BENCH_UI:-1}" = "1" ]; then
  echo
  echo "[bench] web UI pages (their own seeded catalog)" >&2
  (unset DATABASE_URL REGISTRY_DATA_DIR; $PY bench/ui_bench.py) || measured=3
fi
if [ "${BENCH_DEPLOY:-1}" = "1" ]; then
  echo
  echo "[bench] approvals and deployments (PostgreSQL + Redis + Celery worker)" >&2
  (unset DATABASE_URL REGISTRY_DATA_DIR; $PY bench/deploy_bench.py) || measured=3
fi
echo
echo "bench finished in $(($(date +%s) - started)) s"
if [ "$measured" -ne 0 ] && [ "${BENCH_STRICT:-0}" = "1" ]; then
  exit 1
fi
