#!/usr/bin/env bash
# Debian packages the test suite drives for real: Chromium (browser tests), Java (the Nu HTML checker),
# wrk and nginx (benchmarks), PostgreSQL 15 (the second database run), Redis (the shared cache and its
# outages). Installed when missing and root.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v java >/dev/null || need+=(default-jre-headless)
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v redis-server >/dev/null || need+=(redis-server)
# Not `fc-list | grep -q`: grep stops at the first match, a long font list then dies of SIGPIPE, and
# pipefail would report the font missing. A process substitution's exit status counts for nothing.
grep -qi dejavu <(fc-list 2>/dev/null) || need+=(fonts-dejavu-core)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "!!! Missing Debian packages: ${need[*]}" >&2
  echo "!!! Install them with: sudo apt-get install ${need[*]}" >&2
  echo "!!! Tests that need them will be skipped (outside CI) or fail (with CI=true)." >&2
fi
