#!/usr/bin/env bash
# Usage: bash scripts/ensure-packages.sh WHO PACKAGE...
# Installs the Debian packages that are missing (as root), quietly when none is.
# WHO prefixes the log line, so the caller's output says who installed what.
set -euo pipefail
who=$1
shift
missing=()
for p in "$@"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "$who: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
