#!/usr/bin/env bash
# Checks the infrastructure templates: restores the Bicep CLI from NuGet (infra/tools/BicepCli.csproj, offline
# once restored), builds and lints every .bicep file under infra/, fails on ANY diagnostic (warnings included),
# and writes the compiled ARM template to artifacts/infra/main.json for Omni.Tests' BicepTemplateTests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

command -v dotnet >/dev/null || { echo "error: the .NET SDK (dotnet) is required to restore the Bicep CLI" >&2; exit 1; }

tools=infra/tools/BicepCli.csproj
version=$(sed -n 's/.*Azure.Bicep.CommandLine.linux-x64" Version="\[\([^]]*\)\]".*/\1/p' "$tools")
[ -n "$version" ] || { echo "error: no Azure.Bicep.CommandLine.linux-x64 version in $tools" >&2; exit 1; }
packages=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//')
bicep="${packages%/}/azure.bicep.commandline.linux-x64/$version/tools/bicep"
if [ ! -f "$bicep" ]; then
  dotnet restore "$tools" --nologo -v quiet >/dev/null
fi
[ -f "$bicep" ] || { echo "error: the Bicep CLI is not at $bicep after restoring $tools" >&2; exit 1; }
[ -x "$bicep" ] || chmod +x "$bicep"

# Bicep reports warnings on stderr and still exits 0, so every line it prints counts as a failure.
failed=0
diagnostics=$(mktemp)
trap 'rm -f "$diagnostics"' EXIT
mkdir -p artifacts/infra
while IFS= read -r file; do
  : > "$diagnostics"
  if [ "$file" = infra/main.bicep ]; then
    "$bicep" build "$file" --outfile artifacts/infra/main.json 2>>"$diagnostics" || failed=1
  else
    "$bicep" build "$file" --stdout >/dev/null 2>>"$diagnostics" || failed=1
  fi
  "$bicep" lint "$file" 2>>"$diagnostics" >>"$diagnostics" || failed=1
  if [ -s "$diagnostics" ]; then
    sort -u "$diagnostics" | sed "s|$root/||" >&2
    failed=1
  fi
done < <(find infra -name '*.bicep' -not -path '*/bin/*' -not -path '*/obj/*' | sort)

if [ ! -s artifacts/infra/main.json ]; then
  echo "error: artifacts/infra/main.json was not written" >&2
  failed=1
fi
if [ "$failed" -ne 0 ]; then
  echo "check-infra: FAILED (Bicep $version): fix every diagnostic above" >&2
  exit 1
fi
echo "check-infra: $(find infra -name '*.bicep' | wc -l) Bicep files build and lint clean (Bicep $version); wrote artifacts/infra/main.json"
