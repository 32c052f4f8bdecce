#!/usr/bin/env bash
# Builds the deployment package for Azure Functions (Flex Consumption, custom handler):
#   scripts/package.sh                 -> artifacts/package/omni-functions.zip (Native AOT, linux-x64)
#   scripts/package.sh --mode r2r      -> ReadyToRun single file instead; --mode jit: plain self-contained (the benchmark's baseline)
#   scripts/package.sh --out DIR       -> DIR/omni-functions.zip and DIR/omni-functions/ (the zip's content)
# The zip holds host.json at its root, one folder per function with its function.json, and the handler
# executable named by host.json's customHandler.description.defaultExecutablePath, with its executable bit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Native AOT: a quarter of the JIT build's cold start and less memory (docs/operators.md, "Native AOT").
mode=aot
out="$root/artifacts/package"
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;;
    --out) out=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    *) echo "usage: scripts/package.sh [--mode aot|r2r|jit] [--out DIR]" >&2; exit 2 ;;
  esac
done
case "$mode" in aot|r2r|jit) ;; *) echo "error: --mode must be aot, r2r or jit" >&2; exit 2 ;; esac

command -v dotnet >/dev/null || { echo "error: the .NET SDK (dotnet) is required" >&2; exit 1; }
# Info-ZIP keeps Unix permissions in the archive, so the handler stays executable on Linux.
if ! command -v zip >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "error: 'zip' is required (apt-get install zip)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends zip >/dev/null
fi
if [ "$mode" = aot ] && ! command -v gcc >/dev/null && ! command -v clang >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "error: Native AOT needs a C toolchain (apt-get install gcc zlib1g-dev)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev zlib1g-dev >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
publish="$root/artifacts/publish/$mode"
stage="$out/omni-functions"
zipfile="$out/omni-functions.zip"
log="$out/publish-$mode.log"
rm -rf "$publish" "$stage" "$zipfile"
mkdir -p "$out"

echo "package: publishing Omni.Functions ($mode, linux-x64 self-contained)..."
# OmniPublish switches on the publish-only settings in Omni.Functions.csproj. (The configuration binding generator
# is on in the projects themselves: passed here, a Release build made before the publish left Omni.Core compiled
# without it, and its options were bound by reflection.)
if ! dotnet publish Omni.Functions/Omni.Functions.csproj -c Release -o "$publish" --nologo \
    -p:OmniPublish="$mode" > "$log" 2>&1; then
  grep -E "error|warning" "$log" | sort -u >&2 || cat "$log" >&2
  echo "error: publish failed ($log)" >&2
  exit 1
fi
# Trim/AOT analysis warnings are kept visible, not silenced: see docs/operators.md for the known ones.
warnings=$(grep -oE "warning IL[0-9]+: [^[]*" "$log" | sort -u || true)
if [ -n "$warnings" ]; then
  echo "package: trim/AOT analysis warnings ($(printf '%s\n' "$warnings" | wc -l) distinct; full log: ${log#"$root"/}):"
  printf '%s\n' "$warnings" | cut -c1-220 | sed 's/^/  /'
fi
# Options bound or validated by reflection would bind trimmed types in the native binary (settings silently unset).
if [ "$mode" = aot ] && printf '%s\n' "$warnings" | grep -qE "BindConfiguration|ValidateDataAnnotations"; then
  echo "error: options are bound or validated by reflection in the AOT build: EnableConfigurationBindingGenerator and an [OptionsValidator] per options type (docs/operators.md)" >&2
  exit 1
fi

exe=$(sed -n 's/.*"defaultExecutablePath": *"\([^"]*\)".*/\1/p' host.json)
[ -n "$exe" ] || { echo "error: host.json has no customHandler.description.defaultExecutablePath" >&2; exit 1; }
[ -f "$publish/$exe" ] || { echo "error: host.json names '$exe' but the publish produced no such file" >&2; exit 1; }

mkdir -p "$stage"
cp host.json "$stage/"
# The host finds functions as folders with a function.json next to host.json.
for f in Omni.Functions/functions/*/function.json; do
  name=$(basename "$(dirname "$f")")
  mkdir -p "$stage/$name"
  cp "$f" "$stage/$name/function.json"
done
# The handler and whatever it needs beside it; not symbols, XML docs or the dev-time copy of the functions.
(cd "$publish" && find . -mindepth 1 -maxdepth 1 ! -name functions ! -name '*.pdb' ! -name '*.dbg' ! -name '*.xml' \
  -exec cp -r {} "$stage/" \;)
chmod 755 "$stage/$exe"

(cd "$stage" && zip -q -r -X "$zipfile" .)
size=$(du -k "$zipfile" | cut -f1)
echo "package: ${zipfile#"$root"/} ($((size / 1024)) MB, $(ls "$stage" | wc -l) entries at the root, handler '$exe' $mode)"
