#!/usr/bin/env bash
# Debian's chromium for the Playwright browser tests (Playwright's own browser
# download is never used). Installs only when missing and we may use apt.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian chromium for the browser tests ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
    echo "note: /usr/bin/chromium is missing and cannot be installed here; browser tests will fail" >&2
fi
