#!/usr/bin/env bash
# Writes a random value into every missing secret file of DIR (default:
# ./secrets for docker compose; spin/overlays/nersc/secrets for Spin). The
# names are those of secrets/*.example. Existing files are never overwritten,
# so running it again is safe. Files are 0644 (docker compose bind-mounts them
# into containers that run as an unprivileged user); the directory is 0700.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-$root/secrets}"
mkdir -p "$dir"
chmod 700 "$dir"
for example in "$root"/secrets/*.example; do
    name="$(basename "$example" .example)"
    target="$dir/$name"
    if [ -s "$target" ]; then
        echo "kept    $target"
        continue
    fi
    python3 -c 'import secrets; print(secrets.token_urlsafe(36))' > "$target"
    chmod 644 "$target"
    echo "created $target"
done
