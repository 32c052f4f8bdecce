#!/usr/bin/env bash
# Installs espeak-ng from Debian for the IVR prompt preview tests (the local text-to-speech when no Azure AI Speech
# endpoint is configured; its Portuguese voices ship in espeak-ng-data). A no-op when espeak-ng is on the PATH.
# Without it the preview tests fail, naming it: they never skip.
set -euo pipefail
command -v espeak-ng >/dev/null 2>&1 && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "error: installing espeak-ng (for the IVR prompt preview tests) needs root (apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null
