#!/usr/bin/env bash
# Install Debian's default-jre-headless when no Java 17+ is on the PATH (Spark needs it:
# features.engine: spark and its parity test).
set -euo pipefail
major() {
  java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}' | awk -F. '{print ($1 == "1") ? $2 : $1}' | sed 's/[^0-9].*//'
}
if command -v java >/dev/null 2>&1 && [ "$(major)" -ge 17 ] 2>/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: Java 17 or newer is missing and apt-get is not available; install a Java runtime (17+) by hand or set JAVA_HOME" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing default-jre-headless (Debian package) for Spark..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q default-jre-headless >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q default-jre-headless >/dev/null
}
if [ "$(major)" -lt 17 ] 2>/dev/null; then
  echo "error: the installed Java is older than 17; Spark 4 needs Java 17 or newer" >&2
  exit 1
fi
