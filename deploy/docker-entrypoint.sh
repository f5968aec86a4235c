#!/bin/sh
# The image's one entry point; exec so that SIGTERM reaches gunicorn or the worker.
#   web            gunicorn serving the dashboard and API (deploy/gunicorn.conf.py)
#   worker         the export worker (RQ, warm Chromium)
#   load           fetch NASA's layers into Redis (unchanged layers are not re-parsed)
#   load-if-empty  the same, only when no dataset is loaded yet
# Anything else is run as given (e.g. "python -m dashboard info").
set -eu
cmd="${1:-web}"
case "$cmd" in
  web) shift || true; exec gunicorn -c /app/deploy/gunicorn.conf.py "$@" dashboard.wsgi:server ;;
  worker) exec python -m jobs.worker ;;
  load) shift; exec python -m dashboard load "$@" ;;
  load-if-empty) exec python -m dashboard load --if-empty ;;
  *) exec "$@" ;;
esac
