#!/usr/bin/env bash
# Install a system font with Japanese glyphs (Debian's fonts-ipafont-gothic) when none is
# installed, so headless Chromium renders the Japanese report and email (report.language: ja)
# instead of boxes. The charts do not need it: matplotlib-fontja ships their font with pip.
set -euo pipefail
if command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=ja family 2>/dev/null)" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: no Japanese font installed and apt-get is not available; install a CJK font (IPAGothic, Noto Sans CJK) by hand" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing fonts-ipafont-gothic (Debian package) for the Japanese browser checks..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q fonts-ipafont-gothic fontconfig >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q fonts-ipafont-gothic fontconfig >/dev/null
}
fc-cache -f >/dev/null 2>&1 || true
