#!/usr/bin/env bash
# Runs every test: installs what the tests need (Azurite from npm, Dovecot, Postfix, Chromium and espeak-ng from Debian),
# builds, runs the xunit suite against real components, checks the infrastructure templates, and
# ends with one line "N passed, N failed, N skipped" taken from the test results file.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need() { command -v "$1" >/dev/null 2>&1 || { echo "error: $1 is required ($2)" >&2; exit 1; }; }
need dotnet "the .NET 10 SDK"
need npm "Node.js and npm, for Azurite and Redocly's CLI"

# Debian packages the mail tests run for real (no-ops when already installed).
scripts/install-mail-servers.sh
# Debian's Chromium for the webchat browser tests (a no-op when /usr/bin/chromium is there).
scripts/install-browser.sh
# Debian's espeak-ng for the IVR prompt preview tests (a no-op when espeak-ng is on the PATH).
scripts/install-speech.sh

# Azurite, and Redocly's CLI that lints the OpenAPI document (Omni.Tests/Operations).
npm ci --no-audit --no-fund --loglevel=error

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Kiota, which generates the OpenAPI client the tests compare and run (.config/dotnet-tools.json).
dotnet tool restore >/dev/null
dotnet build Omni.sln -c Release --nologo -v quiet

status=0
if [ -x scripts/check-infra.sh ]; then
  scripts/check-infra.sh || status=$?
fi
# The deployment package (a Native AOT publish, a few minutes; up to a quarter of an hour on 2 busy cores) started as the
# Functions host starts it, its timer and queue functions invoked as the host does, against Azurite, Dovecot and Postfix: in CI, or
# when asked with OMNI_CHECK_PACKAGE=1.
if [ -x scripts/check-package.sh ] && { [ "${CI:-}" = true ] || [ "${OMNI_CHECK_PACKAGE:-}" = 1 ]; }; then
  scripts/check-package.sh || status=$?
fi

results="$root/TestResults"
rm -rf "$results"
dotnet test --project Omni.Tests -c Release --no-build --results-directory "$results" \
  --report-xunit-trx --report-xunit-trx-filename results.trx || status=$?

trx="$results/results.trx"
if [ ! -f "$trx" ]; then
  echo "error: no test results were written ($trx)" >&2
  echo "0 passed, 0 failed"
  exit 1
fi

counter() { grep -o "<Counters [^>]*" "$trx" | grep -o " $1=\"[0-9]*\"" | grep -o "[0-9]*" || echo 0; }
passed=$(counter passed)
failed=$(counter failed)
total=$(counter total)
executed=$(counter executed)
skipped=$(( total - executed ))
if [ "$executed" -eq 0 ]; then
  echo "error: the test run executed no test" >&2
  status=1
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
