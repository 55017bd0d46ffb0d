#!/usr/bin/env bash
# The demo alert cycle the run command starts in the background:
#   brokerpoll   stores what the fake broker publishes,
#   fakebroker   classifies every alert it reads (two classifiers),
#   send_elasticc_alerts  streams the first DEMO_DAYS simulated days of alerts,
# then keeps the metrics pages current until stopped (SIGTERM/SIGINT stops all).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

py=.venv/bin/python
# The alert topics, with settings.py's defaults: wide-fast-deep, and the two
# that deep-drilling alerts go to (an empty DDF name means none, as there);
# the fake broker answers what arrives on each.
alerts=${ALERT_TOPIC:-elasticc-alerts}
ddf_full=${ALERT_DDF_TOPIC-elasticc-alerts-ddf-full}
ddf_limited=${ALERT_DDF_LIMITED_TOPIC-elasticc-alerts-ddf-limited}
sources=()
for topic in "$alerts" "$ddf_full" "$ddf_limited"; do
    if [[ -n $topic ]]; then sources+=(--source-topic "$topic"); fi
done
# A topic per run: the local Kafka keeps nothing across restarts, so offsets
# start at 0 again, and a broker message's identity is topic/partition/offset.
classifications=${DEMO_CLASSIFICATION_TOPIC:-fakebroker-classifications-$(date -u +%Y%m%dT%H%M%S)}
mkdir -p var/log
source scripts/lib/stop_processes.sh

pids=()
current=
# Foreground work runs in the background and is waited for, so that a signal
# is handled at once instead of after the command ends.
run() {
    "$@" &
    current=$!
    wait "$current"
    current=
}
stop() {
    trap - EXIT INT TERM
    stop_processes "${DESC_STOP_GRACE:-5}" "${pids[@]}" $current
    exit 0
}
trap stop EXIT INT TERM

$py manage.py brokerpoll --topic "$classifications" --group demo-brokerpoll --name fakebroker \
    >> var/log/brokerpoll.log 2>&1 &
pids+=($!)
$py manage.py fakebroker "${sources[@]}" --dest-topic "$classifications" --group demo-fakebroker \
    >> var/log/fakebroker.log 2>&1 &
pids+=($!)

run $py manage.py send_elasticc_alerts --added-days "${DEMO_DAYS:-30}" --wfd-topic "$alerts" \
    --ddf-full-topic "$ddf_full" --ddf-limited-topic "$ddf_limited" --do --no-progress \
    >> var/log/send_elasticc_alerts.log 2>&1
echo "demo alert cycle: alerts sent (log in var/log/); classifications are arriving"

while true; do
    run $py manage.py refresh_elasticc_metrics >> var/log/metrics.log 2>&1
    run sleep "${DEMO_METRICS_EVERY:-30}"
done
