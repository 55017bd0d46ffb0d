#!/usr/bin/env bash
# The whole test suite on real services: PostgreSQL (a project-local cluster
# unless DATABASE_URL/DB_HOST is set), the tansu Kafka broker (unless
# KAFKA_BOOTSTRAP_SERVERS is set) and headless Chromium for the browser tests.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/test_schema.py -x).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/bootstrap.sh
scripts/install_browser.sh
.venv/bin/python -m tom_desc.local_services up
exec .venv/bin/python -m pytest "$@"
