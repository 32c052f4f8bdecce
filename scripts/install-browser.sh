#!/usr/bin/env bash
# Installs Chromium from Debian for the webchat browser tests (Playwright for .NET drives it through
# BrowserTypeLaunchOptions.ExecutablePath; Playwright's own browser download cannot work here). A no-op when
# /usr/bin/chromium is there. Without it the browser tests fail, naming it: they never skip.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "error: installing chromium (for the webchat browser tests) needs root (apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
