#!/usr/bin/env bash
# The full bad-input corpus: BodyFuzzTests with OMNI_FUZZ_BODIES_PER_ROUTE bodies (default 1500) on every route
# that binds a JSON body, against the real app on real Kestrel and Azurite. The default suite sends 300 per route.
# Prints a table per route (bodies, 2xx, 4xx, 5xx) and exits non-zero when any body got a 5xx or a 4xx without a
# problem document. Usage: scripts/fuzz.sh [bodies-per-route]
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export OMNI_FUZZ_BODIES_PER_ROUTE="${1:-${OMNI_FUZZ_BODIES_PER_ROUTE:-1500}}"
export OMNI_FUZZ_REPORT="${OMNI_FUZZ_REPORT:-$(pwd)/TestResults/fuzz-report.md}"
mkdir -p "$(dirname "$OMNI_FUZZ_REPORT")"
rm -f "$OMNI_FUZZ_REPORT"

[ -d node_modules/azurite ] || npm ci --no-audit --no-fund --loglevel=error
dotnet build Omni.Tests -c Release --nologo -v quiet

status=0
start=$(date +%s)
dotnet test --project Omni.Tests -c Release --no-build -- --filter-class "Omni.Tests.Hosting.BodyFuzzTests" || status=$?
echo "${OMNI_FUZZ_BODIES_PER_ROUTE} bodies per route in $(( $(date +%s) - start )) s"
if [ -f "$OMNI_FUZZ_REPORT" ]; then
  cat "$OMNI_FUZZ_REPORT"
else
  echo "error: the fuzz test wrote no report ($OMNI_FUZZ_REPORT)" >&2
  status=1
fi
exit "$status"
