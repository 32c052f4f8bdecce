#!/usr/bin/env bash
# Builds the deployment package (scripts/package.sh) and runs it the way the Functions host does: unzipped,
# working directory = the package root, FUNCTIONS_CUSTOMHANDLER_PORT / _WORKER_ID / FUNCTIONS_APP_ROOT_PATH set,
# storage = a local Azurite. Then it checks GET / and /api/health, creates a company with the admin token and
# reads it back (tables in the published build), runs the message path and the listings (Table queries), fetches the
# OpenAPI document, and checks that the function.json set in the zip is exactly what the handler serves.
#   scripts/check-package.sh [--mode aot|r2r|jit] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

mode=aot
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: scripts/check-package.sh [--mode aot|r2r|jit] [--no-build]" >&2; exit 2 ;;
  esac
done

missing=()
for tool in unzip:unzip jq:jq curl:curl; do command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "error: ${missing[*]} required (apt-get install ${missing[*]})" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x node_modules/.bin/azurite ] || npm ci --no-audit --no-fund --loglevel=error

zipfile="$root/artifacts/package/omni-functions.zip"
[ "$build" -eq 0 ] || scripts/package.sh --mode "$mode"
[ -f "$zipfile" ] || { echo "error: $zipfile is missing (scripts/package.sh)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-package: FAILED: $*" >&2; for f in "$work"/handler.out "$work"/handler.err; do [ -s "$f" ] && { echo "--- ${f##*/}" >&2; tail -40 "$f" >&2; }; done; exit 1; }

app="$work/app"
mkdir -p "$app"
unzip -q "$zipfile" -d "$app"

# The layout the host expects.
[ -f "$app/host.json" ] || fail "host.json is not at the root of the zip"
exe=$(jq -r '.customHandler.description.defaultExecutablePath // empty' "$app/host.json")
[ -n "$exe" ] || fail "host.json has no customHandler.description.defaultExecutablePath"
[ -f "$app/$exe" ] || fail "host.json names '$exe', which is not in the zip"
[ -x "$app/$exe" ] || fail "'$exe' lost its executable bit in the zip"
zipped=$(cd "$app" && ls -d */ 2>/dev/null | tr -d / | while read -r d; do [ -f "$d/function.json" ] && echo "$d"; done | sort)
source=$(ls Omni.Functions/functions | sort)
[ "$zipped" = "$source" ] || fail "function folders in the zip ($(echo $zipped)) differ from Omni.Functions/functions ($(echo $source))"

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
# Azurite's published development account key: not a secret.
account="devstoreaccount1"
key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
storage="DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$blob/$account;QueueEndpoint=http://127.0.0.1:$queue/$account;TableEndpoint=http://127.0.0.1:$table/$account;"

port=$(free_port)
admin=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
start=$(date +%s%N)
(cd "$app" && exec env FUNCTIONS_CUSTOMHANDLER_PORT="$port" FUNCTIONS_CUSTOMHANDLER_WORKER_ID="$(cat /proc/sys/kernel/random/uuid)" \
  FUNCTIONS_APP_ROOT_PATH="$app" AzureWebJobsStorage="$storage" \
  Omni__AdminToken="$admin" Omni__SecretsKey="$(head -c 32 /dev/urandom | base64)" \
  "./$exe" > "$work/handler.out" 2> "$work/handler.err") &
handler=$!
pids+=("$handler")
base="http://127.0.0.1:$port"

status() { curl -s -o "$work/body" -w '%{http_code}' "$@" || echo 000; }
ready=""
for _ in $(seq 1 300); do
  kill -0 "$handler" 2>/dev/null || fail "the handler exited before answering GET /"
  if [ "$(status "$base/")" = 200 ]; then ready=$(( ($(date +%s%N) - start) / 1000000 )); break; fi
  sleep 0.1
done
[ -n "$ready" ] || fail "no 200 on GET / within 30 s (the host's initializationTimeout)"
[ "$(status "$base/api/health")" = 200 ] || fail "GET /api/health answered $(cat "$work/body")"
rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$handler/status" 2>/dev/null || echo "?")

# A real route: tables written and read by the native binary.
code=$(status -X POST "$base/api/companies" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{"name":"Package Check Ltda"}')
[ "$code" = 201 ] || fail "POST /api/companies answered $code: $(cat "$work/body")"
id=$(jq -r .id "$work/body")
code=$(status "$base/api/companies/$id" -H "Authorization: Bearer $admin")
[ "$code" = 200 ] && [ "$(jq -r .name "$work/body")" = "Package Check Ltda" ] || fail "GET /api/companies/$id answered $code: $(cat "$work/body")"
code=$(status -X POST "$base/api/companies" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{"name":""}')
[ "$code" = 400 ] && [ "$(jq -r '.errors.name[0] // empty' "$work/body")" != "" ] || fail "an invalid company answered $code, not a 400 problem with errors.name: $(cat "$work/body")"
[ "$(status "$base/api/companies/$id")" = 401 ] || fail "GET /api/companies/$id without a token was not 401"

# The message path in the published build: a service, an omni channel and its API key, a receive_hook (an entity-group
# transaction), the conversation's history, and an agent's reply (queued for SendOutbound).
code=$(status -X POST "$base/api/companies/$id/services" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{"name":"Suporte"}')
[ "$code" = 201 ] || fail "POST services answered $code: $(cat "$work/body")"
service=$(jq -r .id "$work/body")
code=$(status -X POST "$base/api/companies/$id/channels" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d "{\"type\":\"omni\",\"name\":\"ERP\",\"serviceId\":\"$service\",\"settings\":{\"webhookUrl\":\"https://erp.example.com/hook\"}}")
[ "$code" = 201 ] || fail "POST channels answered $code: $(cat "$work/body")"
channel=$(jq -r .id "$work/body")
code=$(status -X POST "$base/api/companies/$id/channels/$channel/api-keys" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{"name":"erp"}')
[ "$code" = 201 ] || fail "POST api-keys answered $code: $(cat "$work/body")"
apikey=$(jq -r .key "$work/body")
code=$(status -X POST "$base/api/receive_hook" -H "X-Api-Key: $apikey" -H 'Content-Type: application/json' \
  -d '{"externalId":"pkg-1","contact":{"externalId":"cust-1","name":"Maria"},"text":"Olá","attachments":[{"fileName":"a.txt","contentType":"text/plain","contentBase64":"aGVsbG8="}]}')
[ "$code" = 202 ] || fail "POST /api/receive_hook answered $code: $(cat "$work/body")"
conversation=$(jq -r .conversationId "$work/body")
code=$(status "$base/api/companies/$id/conversations/$conversation/messages" -H "Authorization: Bearer $admin")
[ "$code" = 200 ] && [ "$(jq -r '.items[0].text' "$work/body")" = "Olá" ] && [ "$(jq -r '.items[0].direction' "$work/body")" = inbound ] \
  || fail "the received message is not in the history ($code): $(cat "$work/body")"
code=$(status -X POST "$base/api/companies/$id/conversations/$conversation/messages" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{"text":"Resposta"}')
[ "$code" = 202 ] && [ "$(jq -r .status "$work/body")" = queued ] || fail "sending a reply answered $code: $(cat "$work/body")"

# Listings are Table queries (TableQueries.QueryEntitiesAsync: the SDK's QueryAsync<T> has no native code under AOT),
# one with a continuation token followed to its second page.
code=$(status "$base/api/companies/$id/channels" -H "Authorization: Bearer $admin")
[ "$code" = 200 ] && [ "$(jq -r '.items[0].id' "$work/body")" = "$channel" ] || fail "the channel listing answered $code: $(cat "$work/body")"
code=$(status "$base/api/companies/$id/conversations" -H "Authorization: Bearer $admin")
[ "$code" = 200 ] && [ "$(jq -r '.items[0].id' "$work/body")" = "$conversation" ] || fail "the conversation listing answered $code: $(cat "$work/body")"
code=$(status "$base/api/companies/$id/audit/events?limit=1" -H "Authorization: Bearer $admin")
token=$(jq -r '.continuationToken // empty' "$work/body")
[ "$code" = 200 ] && [ "$(jq '.items | length' "$work/body")" = 1 ] && [ -n "$token" ] || fail "the audit listing (limit=1) answered $code: $(cat "$work/body")"
first=$(jq -c '.items[0]' "$work/body")
code=$(status "$base/api/companies/$id/audit/events?limit=1&continuationToken=$token" -H "Authorization: Bearer $admin")
[ "$code" = 200 ] && [ "$(jq '.items | length' "$work/body")" = 1 ] && [ "$(jq -c '.items[0]' "$work/body")" != "$first" ] \
  || fail "the audit listing's second page answered $code: $(cat "$work/body")"
code=$(status "$base/api/audit/messages" -H "X-Api-Key: $apikey")
[ "$code" = 200 ] && jq -e '[.items[].text] | index("Olá") != null' "$work/body" >/dev/null || fail "the channel's message audit answered $code: $(cat "$work/body")"
code=$(status "$base/api/audit/deliveries" -H "X-Api-Key: $apikey")
[ "$code" = 200 ] && jq -e '.items | type == "array"' "$work/body" >/dev/null || fail "the delivery audit answered $code: $(cat "$work/body")"

# The functions the zip declares and the routes the handler serves must match both ways.
[ "$(status "$base/api/openapi/v1.json")" = 200 ] || fail "GET /api/openapi/v1.json answered $(cat "$work/body")"
cp "$work/body" "$work/openapi.json"
declare -A fn_regex fn_methods
for name in $zipped; do
  json="$app/$name/function.json"
  type=$(jq -r '[.bindings[] | select(.direction == "in" and (.type | endswith("Trigger")))][0].type' "$json")
  if [ "$type" = httpTrigger ]; then
    route=$(jq -r '[.bindings[] | select(.type == "httpTrigger")][0].route' "$json")
    regex=$(printf '%s' "api/$route" | sed -E 's#/\{\*[^}]*\}#(/.*)?#g; s#\{[^}]*\?\}#[^/]*#g; s#\{[^}]*\}#[^/]+#g')
    fn_regex[$name]="^${regex}/?\$"
    fn_methods[$name]=$(jq -r '[.bindings[] | select(.type == "httpTrigger")][0].methods | map(ascii_upcase) | join(" ")' "$json")
  else
    # Timer and queue functions arrive as POST /{Name}: a GET proves the endpoint exists (405) without running it.
    code=$(status "$base/$name")
    [ "$code" = 405 ] || fail "function.json '$name' ($type) has no POST /$name invocation endpoint in the handler (GET answered $code)"
  fi
done
served=$(jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | select(. != "parameters") | "\(ascii_upcase) \($p)"' "$work/openapi.json")
served+=$'\n'"GET /api/openapi/v1.json"$'\n'"GET /api/docs/"
used=()
while read -r method path; do
  [ -n "$method" ] || continue
  concrete=$(printf '%s' "${path#/}" | sed -E 's#\{[^}]*\}#x#g')
  hit=""
  for name in "${!fn_regex[@]}"; do
    if [[ "$concrete" =~ ${fn_regex[$name]} ]] && [[ " ${fn_methods[$name]} " == *" $method "* ]]; then hit=$name; used+=("$name"); break; fi
  done
  [ -n "$hit" ] || fail "the handler serves $method $path but no function.json in the zip routes it (the host would answer 404)"
  [ "$method" != GET ] || [ "$path" = /api/docs/ ] || [ "$path" = /api/openapi/v1.json ] || [[ "$path" == *"{"* ]] || \
    [ "$(status "$base$path" -H "Authorization: Bearer $admin")" != 404 ] || fail "GET $path is in the OpenAPI document but answered 404"
done <<< "$served"
[ "$(status "$base/api/docs/")" = 200 ] || fail "GET /api/docs/ (Scalar) did not answer 200"
for name in "${!fn_regex[@]}"; do
  [[ " ${used[*]} " == *" $name "* ]] || fail "function.json '$name' routes to nothing the handler serves"
done

grep -qi "unhandled\|exception" "$work/handler.err" && fail "the handler wrote an exception to stderr"
size=$(( $(stat -c %s "$zipfile") / 1024 / 1024 ))
echo "check-package: OK ($mode): ${size} MB zip, first 200 on / after ${ready} ms, ${rss} MB resident, $(echo $zipped | wc -w) functions match the handler's routes"
