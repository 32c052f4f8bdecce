#!/usr/bin/env bash
# Cold-start benchmark of the deployment package, three ways: JIT (self-contained, the baseline), ReadyToRun
# (single file) and Native AOT (the package). Each is packaged with scripts/package.sh, unzipped, and started the way
# the Functions host starts it (package root as working directory, FUNCTIONS_CUSTOMHANDLER_PORT etc.) against a local
# Azurite with Omni__Storage__ProvisionOnStart=false, as in Azure. Before every start the package's files are dropped
# from the page cache (dd iflag=nocache: only those files, not the machine's whole cache), so each start reads its
# binary from disk as a new instance does. Measured per run: milliseconds from process start to the first 200 on
# GET /api/health (so storage answered) and to the first 202 of a POST /api/receive_hook sent right after it (a
# message stored: the path a cold instance first serves), then VmRSS one second later, idle, with its anonymous and
# file-backed parts (RssAnon, RssFile), and the time of the next receive_hook sent then (what the idle memory trim
# costs the message after it: compare a run with --env Omni__Memory__TrimWhenIdleFor=00:00:00). One discarded warm-up
# run per mode (it also creates the tables and the channel), then RUNS (default 7) rounds that start each build in
# turn; medians. --env "NAME=VALUE ..." starts every build with those variables too (runtime knobs such as
# DOTNET_gcServer=0 or DOTNET_GCgen0size=0x200000, without a new publish).
#   scripts/bench-cold-start.sh [--runs N] [--modes "jit r2r aot"] [--no-build] [--env "NAME=VALUE ..."]
# Writes artifacts/benchmarks/cold-start.md and .json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

runs=7
modes="jit r2r aot"
build=1
extra_env=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --env) extra_env=$2; shift 2 ;;
    *) echo "usage: scripts/bench-cold-start.sh [--runs N] [--modes \"jit r2r aot\"] [--no-build] [--env \"NAME=VALUE ...\"]" >&2; exit 2 ;;
  esac
done
[ "$runs" -ge 5 ] || { echo "error: --runs must be at least 5" >&2; exit 2; }
for tool in unzip curl jq; do command -v "$tool" >/dev/null || { echo "error: $tool is required (apt-get install $tool)" >&2; exit 1; }; done
[ -x node_modules/.bin/azurite ] || npm ci --no-audit --no-fund --loglevel=error

bench="$root/artifacts/bench/cold-start"
mkdir -p "$bench" artifacts/benchmarks
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Below the kernel's ephemeral range (32768+), where an outgoing connection may hold a port nobody listens on.
free_port() { local p; while :; do p=$((12000 + RANDOM % 20000)); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; }
blob=$(free_port); queue=$(free_port); table=$(free_port)
node_modules/.bin/azurite --inMemoryPersistence --skipApiVersionCheck --silent --loose \
  --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
  --blobPort "$blob" --queuePort "$queue" --tablePort "$table" > "$work/azurite.log" 2>&1 &
pids+=($!)
for p in "$blob" "$queue" "$table"; do
  for _ in $(seq 1 150); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
done
account="devstoreaccount1"
key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # Azurite's public dev key
storage="DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$blob/$account;QueueEndpoint=http://127.0.0.1:$queue/$account;TableEndpoint=http://127.0.0.1:$table/$account;"
admin=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
secrets=$(head -c 32 /dev/urandom | base64)

# Drops the package's files from the page cache (POSIX_FADV_DONTNEED per file), so the next start reads them from disk.
uncache() { find "$1" -type f -exec dd if={} iflag=nocache count=0 status=none \; ; }

# One start: prints "<ms to first 200 on /api/health> <ms to first 202 on receive_hook> <VmRSS MB when idle> <RssAnon MB> <RssFile MB>
# <ms of the next receive_hook, sent after that idle second>".
start_once() {
  local app=$1 provision=$2 port pid t0 ms="" hook="" rss code next=""
  port=$(free_port)
  uncache "$app"
  t0=$(date +%s%N)
  (cd "$app" && exec env $extra_env FUNCTIONS_CUSTOMHANDLER_PORT="$port" FUNCTIONS_CUSTOMHANDLER_WORKER_ID="$(cat /proc/sys/kernel/random/uuid)" \
    FUNCTIONS_APP_ROOT_PATH="$app" AzureWebJobsStorage="$storage" Omni__AdminToken="$admin" Omni__SecretsKey="$secrets" \
    Omni__Storage__ProvisionOnStart="$provision" ./Omni.Functions > "$work/out.log" 2> "$work/err.log") &
  pid=$!
  for _ in $(seq 1 6000); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/health" 2>/dev/null)" = 200 ]; then
      ms=$(( ($(date +%s%N) - t0) / 1000000 )); break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.005
  done
  if [ -n "$ms" ]; then
    [ -n "$apikey" ] || setup_channel "http://127.0.0.1:$port"
    code=$(curl -s -o "$work/hook.json" -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/receive_hook" -H "X-Api-Key: $apikey" \
      -H 'Content-Type: application/json' -d "{\"externalId\":\"bench-$(cat /proc/sys/kernel/random/uuid)\",\"contact\":{\"externalId\":\"cust-1\"},\"text\":\"Olá\"}")
    [ "$code" = 202 ] && hook=$(( ($(date +%s%N) - t0) / 1000000 ))
    sleep 1
  fi
  rss=$(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s%.1f", sep, $2/1024; sep=" "}' "/proc/$pid/status" 2>/dev/null || echo "0 0 0")
  if [ -n "$hook" ]; then
    # The next message after that idle second: what giving memory back when idle costs the request that follows.
    next=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X POST "http://127.0.0.1:$port/api/receive_hook" -H "X-Api-Key: $apikey" \
      -H 'Content-Type: application/json' -d "{\"externalId\":\"bench-$(cat /proc/sys/kernel/random/uuid)\",\"contact\":{\"externalId\":\"cust-1\"},\"text\":\"Olá\"}")
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -n "$next" ]; then
    [ "${next%% *}" = 202 ] || { echo "error: the $app handler answered ${next%% *} to the second receive_hook" >&2; return 1; }
    next=$(awk -v s="${next#* }" 'BEGIN {printf "%.1f", s * 1000}')
  fi
  [ -n "$ms" ] || { echo "error: the $app handler never answered 200 on /api/health" >&2; grep -v "^   *at \|End of stack trace" "$work/err.log" | tail -20 >&2; tail -5 "$work/out.log" >&2; return 1; }
  [ -n "$hook" ] || { echo "error: the $app handler answered $code to receive_hook: $(cat "$work/hook.json")" >&2; return 1; }
  echo "$ms $hook $rss $next"
}

# A company, a service, an omni channel and its API key, made once (Azurite keeps them for every later start).
apikey=""
setup_channel() {
  local base=$1 company service channel auth=(-H "Authorization: Bearer $admin" -H 'Content-Type: application/json')
  company=$(curl -sf -X POST "$base/api/companies" "${auth[@]}" -d '{"name":"Bench"}' | jq -r .id)
  service=$(curl -sf -X POST "$base/api/companies/$company/services" "${auth[@]}" -d '{"name":"Suporte"}' | jq -r .id)
  channel=$(curl -sf -X POST "$base/api/companies/$company/channels" "${auth[@]}" \
    -d "{\"type\":\"omni\",\"name\":\"ERP\",\"serviceId\":\"$service\",\"settings\":{\"webhookUrl\":\"https://erp.example.com/hook\"}}" | jq -r .id)
  apikey=$(curl -sf -X POST "$base/api/companies/$company/channels/$channel/api-keys" "${auth[@]}" -d '{"name":"bench"}' | jq -r .key)
  [ -n "$apikey" ] && [ "$apikey" != null ] || { echo "error: could not create the benchmark's channel" >&2; exit 1; }
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

declare -A start_ms hook_ms rss_mb anon_mb file_mb size_mb next_ms
for mode in $modes; do
  out="$bench/$mode"
  if [ "$build" -eq 1 ] || [ ! -f "$out/omni-functions.zip" ]; then
    scripts/package.sh --mode "$mode" --out "$out" | grep -v "^  " || { echo "error: packaging $mode failed" >&2; exit 1; }
  fi
  app="$work/$mode"
  mkdir -p "$app" && unzip -q "$out/omni-functions.zip" -d "$app"
  size_mb[$mode]=$(awk -v b="$(stat -c %s "$out/omni-functions.zip")" 'BEGIN {printf "%.1f", b/1048576}')
  start_once "$app" true > /dev/null   # warm-up (file cache, tables), not counted
  : > "$work/$mode.runs"
done
# Round-robin, so a burst of load on the machine falls on every build alike rather than on one.
for _ in $(seq 1 "$runs"); do
  for mode in $modes; do start_once "$work/$mode" false >> "$work/$mode.runs"; done
done
for mode in $modes; do
  start_ms[$mode]=$(cut -d' ' -f1 "$work/$mode.runs" | median)
  hook_ms[$mode]=$(cut -d' ' -f2 "$work/$mode.runs" | median)
  rss_mb[$mode]=$(cut -d' ' -f3 "$work/$mode.runs" | median)
  anon_mb[$mode]=$(cut -d' ' -f4 "$work/$mode.runs" | median)
  file_mb[$mode]=$(cut -d' ' -f5 "$work/$mode.runs" | median)
  next_ms[$mode]=$(cut -d' ' -f6 "$work/$mode.runs" | median)
  echo "cold-start: $mode: runs (health ms, receive_hook ms, MB): $(tr '\n' ';' < "$work/$mode.runs")"
done

base=$(echo "$modes" | awk '{print $1}')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
md="artifacts/benchmarks/cold-start.md"
{
  echo "## cold-start"
  echo
  echo "Process start to the first 200 on GET /api/health (storage answered) and to the first 202 of a receive_hook sent"
  echo "right after it, and resident memory one second later (idle), for the deployment package started the way the"
  echo "Functions host starts it, its files dropped from the page cache before each start, against a local Azurite."
  echo "Median of $runs runs after one warm-up, builds started in turn; ratios against $base from the same run (below 1"
  echo "is better). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "- machine: $(nproc) cores ($cpu), $(date -u +%Y-%m-%d)"
  echo "- command: scripts/bench-cold-start.sh --runs $runs${extra_env:+ --env \"$extra_env\"}"
  echo
  echo "| build | start to first 200 | ratio | to first receive_hook 202 | ratio | resident memory (idle) | ratio | of which anonymous / file-backed | next receive_hook after idle | zip size |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for mode in $modes; do
    echo "| $mode | ${start_ms[$mode]} ms | $(ratio "${start_ms[$mode]}" "${start_ms[$base]}")× | ${hook_ms[$mode]} ms | $(ratio "${hook_ms[$mode]}" "${hook_ms[$base]}")× | ${rss_mb[$mode]} MB | $(ratio "${rss_mb[$mode]}" "${rss_mb[$base]}")× | ${anon_mb[$mode]} / ${file_mb[$mode]} MB | ${next_ms[$mode]} ms | ${size_mb[$mode]} MB |"
  done
} > "$md"
{
  echo "{"
  echo "  \"Name\": \"cold-start\", \"Runs\": $runs, \"Baseline\": \"$base\", \"Cores\": $(nproc),"
  echo "  \"Rows\": ["
  sep=""
  for mode in $modes; do
    printf '%s    {"Build": "%s", "StartMs": %s, "StartRatio": %s, "ReceiveHookMs": %s, "ReceiveHookRatio": %s, "ResidentMB": %s, "ResidentRatio": %s, "AnonMB": %s, "FileMB": %s, "NextReceiveHookMs": %s, "ZipMB": %s}' "$sep" "$mode" \
      "${start_ms[$mode]}" "$(ratio "${start_ms[$mode]}" "${start_ms[$base]}")" "${hook_ms[$mode]}" "$(ratio "${hook_ms[$mode]}" "${hook_ms[$base]}")" "${rss_mb[$mode]}" "$(ratio "${rss_mb[$mode]}" "${rss_mb[$base]}")" "${anon_mb[$mode]}" "${file_mb[$mode]}" "${next_ms[$mode]}" "${size_mb[$mode]}"
    sep=$',\n'
  done
  echo
  echo "  ]"
  echo "}"
} > artifacts/benchmarks/cold-start.json
cat "$md"
