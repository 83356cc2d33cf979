#!/usr/bin/env bash
# The portal under granian instead of gunicorn (QH_WEB_SERVER=granian in deploy/compose.yaml's
# web service, or the bench's BENCH_WEB_SERVERS=gunicorn,granian): the same QH_BIND,
# QH_WEB_WORKERS and QH_WEB_THREADS settings. Usage: deploy/granian.sh [module:app]
set -euo pipefail
bind="${QH_BIND:-0.0.0.0:8000}"
export QH_WSGI_TARGET="${1:-wsgi:app}"
exec "${QH_GRANIAN:-granian}" --interface wsgi --no-ws \
  --host "${bind%:*}" --port "${bind##*:}" \
  --workers "${QH_WEB_WORKERS:-2}" --blocking-threads "${QH_WEB_THREADS:-8}" \
  --respawn-failed-workers --log-level "$(echo "${QH_LOG_LEVEL:-info}" | tr '[:upper:]' '[:lower:]')" \
  deploy.granian_app:app
