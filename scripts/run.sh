#!/usr/bin/env bash
# Sets up and runs the whole DESC TOM on this machine:
#   venv + pinned requirements, PostgreSQL and Kafka (tom_desc/local_services.py),
#   migrations, an admin account, demo data, one demo alert cycle, a long-query
#   runner, and gunicorn
#   on http://127.0.0.1:${PORT:-8080}/. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/bootstrap.sh
py=.venv/bin/python
export DJANGO_SETTINGS_MODULE=tom_desc.settings

$py -m tom_desc.local_services up
$py manage.py migrate --noinput -v 0
$py manage.py collectstatic --noinput -v 0
$py manage.py ensure_admin
$py manage.py load_demo_data

mkdir -p var/log
source scripts/lib/stop_processes.sh
workers=()
cleanup() {
    trap - EXIT INT TERM
    # Workers stop in a second or two (a batch, a Kafka group leave); gunicorn gives requests in
    # flight GUNICORN_GRACEFUL_TIMEOUT. One second longer than the demo cycle's own grace, so it
    # can name a stuck worker: the whole stop is bounded at about 6 s, plus stopping the services.
    stop_processes $((${DESC_STOP_GRACE:-5} + 1)) "${workers[@]}"
    if [ "${DESC_KEEP_SERVICES:-0}" != 1 ]; then
        $py -m tom_desc.local_services down || true
    fi
}
trap cleanup EXIT INT TERM

scripts/demo_alert_cycle.sh &
workers+=($!)
# Runs the queued long SQL queries (POST /db/submitsqlquery/, TomClient.long_query).
$py manage.py long_query_runner --loop >> var/log/long_query_runner.log 2>&1 &
workers+=($!)

echo "DESC TOM on http://127.0.0.1:${PORT:-8080}/  (Ctrl-C stops it)"
.venv/bin/gunicorn tom_desc.wsgi \
    --bind "127.0.0.1:${PORT:-8080}" \
    --workers "${GUNICORN_WORKERS:-2}" --threads "${GUNICORN_THREADS:-4}" \
    --timeout "${GUNICORN_TIMEOUT:-600}" --access-logfile var/log/access.log \
    --graceful-timeout "${GUNICORN_GRACEFUL_TIMEOUT:-3}" &
workers+=($!)
wait -n "${workers[-1]}"
