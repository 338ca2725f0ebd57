#!/usr/bin/env bash
# Install Debian's postgresql when its server programs are missing (used by tests/export:
# the tests start their own throw-away server with initdb + pg_ctl in a temporary folder).
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: PostgreSQL's initdb/pg_ctl missing and apt-get is not available; install the PostgreSQL server by hand" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing postgresql (Debian package) for the database export tests..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q postgresql >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q postgresql >/dev/null
}
