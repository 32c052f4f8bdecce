#!/usr/bin/env bash
# Runs the benchmarks (all, or those named): each starts its own Azurite and, where it needs them, the mail
# servers, measures the product beside a baseline taken in the same run, prints a table and writes
# artifacts/benchmarks/<name>.md and .json.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet run -c Release --project Omni.Benchmarks -- "$@"
