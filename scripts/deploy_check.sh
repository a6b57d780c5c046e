#!/usr/bin/env bash
# `manage.py check --deploy` on a production configuration must report nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m registry_site.prepare "$tmp" > /dev/null
DJANGO_SECRET_KEY="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
REGISTRY_DATA_DIR="$tmp" \
REGISTRY_HTTPS=true \
DJANGO_DEBUG=false \
DJANGO_ALLOWED_HOSTS=registry.example.com \
DATABASE_URL="postgres://registry@db.example.com/registry" \
CELERY_BROKER_URL="redis://redis.example.com:6379/0" \
  .venv/bin/python manage.py check --deploy --fail-level WARNING
