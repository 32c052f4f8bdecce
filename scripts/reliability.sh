#!/usr/bin/env bash
# The fault-injection suite (Omni.Tests/Reliability) in its long form: the real app as its own process, killed,
# starved of storage, given a broken webhook endpoint, a flaky IMAP server and a Postfix that goes away. Every
# scenario runs, those the default suite skips because they fail today too, with bursts OMNI_RELIABILITY_SIZE times
# the default suite's (default 5), OMNI_RELIABILITY_REPEAT times (default 1). Prints one row of figures per scenario
# and run and writes them to TestResults/reliability-report.md; exits non-zero when any scenario failed.
# Usage: scripts/reliability.sh [ClassName|all]    e.g. scripts/reliability.sh WebhookKillTests
#        OMNI_RELIABILITY_SIZE=10 OMNI_RELIABILITY_REPEAT=3 scripts/reliability.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export OMNI_RELIABILITY_SIZE="${OMNI_RELIABILITY_SIZE:-5}"
repeat="${OMNI_RELIABILITY_REPEAT:-1}"
target="${1:-all}"
report="$(pwd)/TestResults/reliability-report.md"
export OMNI_RELIABILITY_REPORT="$report.rows"
mkdir -p TestResults
rm -f "$OMNI_RELIABILITY_REPORT"

[ -d node_modules/azurite ] || npm ci --no-audit --no-fund --loglevel=error
scripts/install-mail-servers.sh
dotnet build Omni.sln -c Release --nologo -v quiet

if [ "$target" = all ]; then
  filter=(--filter-namespace "Omni.Tests.Reliability")
else
  filter=(--filter-class "Omni.Tests.Reliability.${target#Omni.Tests.Reliability.}")
fi

status=0
start=$(date +%s)
for run in $(seq 1 "$repeat"); do
  echo "== run $run of $repeat (size x${OMNI_RELIABILITY_SIZE})"
  dotnet test --project Omni.Tests -c Release --no-build -- "${filter[@]}" || status=$?
done

{
  echo "# Reliability figures"
  echo
  echo "$(date -u +%Y-%m-%d) on $(nproc) cores, bursts x${OMNI_RELIABILITY_SIZE}, ${repeat} run(s), $(( $(date +%s) - start )) s; exit status ${status}."
  echo
  echo "| scenario | sent | acknowledged | lost | duplicates | stuck | 5xx | recovery (s) | notes |"
  echo "|---|---|---|---|---|---|---|---|---|"
  [ -f "$OMNI_RELIABILITY_REPORT" ] && sort -s -t'|' -k2,2 "$OMNI_RELIABILITY_REPORT"
} > "$report"
rm -f "$OMNI_RELIABILITY_REPORT"
cat "$report"
exit "$status"
