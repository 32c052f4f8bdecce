#!/usr/bin/env bash
# Builds the deployment package (scripts/package.sh) and runs it the way the Functions host does: unzipped,
# working directory = the package root, FUNCTIONS_CUSTOMHANDLER_PORT / _WORKER_ID / FUNCTIONS_APP_ROOT_PATH set,
# storage = a local Azurite. Then it checks GET / and /api/health, creates a company with the admin token and
# reads it back (tables in the published build), runs the message path and the listings (Table queries), fetches the
# OpenAPI document, and checks that the function.json set in the zip is exactly what the handler serves. The timer and
# queue functions are invoked as the host invokes them (POST /{Name} with its Data/Metadata body, the queue message
# taken from the real queue): DeliverWebhook for an omni reply to a local webhook sink whose signature is checked;
# every timer; and an e-mail channel on a real Dovecot and Postfix (started here, on loopback, as Omni.Tests does),
# polled over IMAP by MailboxPollTimer + MailboxPoll and answered over SMTP by SendOutbound. Telemetry goes to the
# Azure Monitor exporter, pointed at the local sink, which must receive it.
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
for tool in unzip:unzip jq:jq curl:curl openssl:openssl python3:python3; do command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "error: ${missing[*]} required (apt-get install ${missing[*]})" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x node_modules/.bin/azurite ] || npm ci --no-audit --no-fund --loglevel=error
scripts/install-mail-servers.sh

zipfile="$root/artifacts/package/omni-functions.zip"
[ "$build" -eq 0 ] || scripts/package.sh --mode "$mode"
[ -f "$zipfile" ] || { echo "error: $zipfile is missing (scripts/package.sh)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
mail=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$mail" ]; then
    /usr/sbin/postfix -c "$mail/postfix" stop >/dev/null 2>&1 || true
    doveadm -c "$mail/dovecot.conf" stop >/dev/null 2>&1 || true
    allow_postfix_dir remove "$mail/postfix" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-package: FAILED: $*" >&2; for f in "$work"/handler.out "$work"/handler.err "$work"/mail/postfix.log "$work"/mail/dovecot.log; do [ -s "$f" ] && { echo "--- ${f##*/}" >&2; tail -40 "$f" >&2; }; done; exit 1; }

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

# The queue's messages as the host would take them (peeked, so they stay): one "<id> <text, base64-decoded>" a line.
# Shared Key as the storage SDKs sign it, so nothing but curl and openssl is needed.
peek_queue() {
  local name=$1 date path sig
  date=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')
  path="/$account/$name/messages"
  sig=$(printf 'GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:%s\nx-ms-version:2021-12-02\n/%s%s\nnumofmessages:32\npeekonly:true' "$date" "$account" "$path" \
    | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(printf '%s' "$key" | base64 -d | od -An -tx1 | tr -d ' \n')" -binary | base64 -w0)
  curl -sf "http://127.0.0.1:$queue$path?numofmessages=32&peekonly=true" -H "x-ms-date: $date" -H "x-ms-version: 2021-12-02" \
    -H "Authorization: SharedKey $account:$sig" -o "$work/peek.xml" || fail "peeking the $name queue failed"
  { grep -o '<QueueMessage>.*</QueueMessage>' "$work/peek.xml" || true; } | sed 's#</QueueMessage>#&\n#g' | while read -r m; do
      [ -n "$m" ] || continue
      printf '%s %s\n' "$(sed -n 's#.*<MessageId>\([^<]*\)</MessageId>.*#\1#p' <<< "$m")" "$(sed -n 's#.*<MessageText>\([^<]*\)</MessageText>.*#\1#p' <<< "$m" | base64 -d)"
    done
}

# A webhook sink (and Azure Monitor's ingestion endpoint): every request's path, headers and body kept as files.
sink=$(free_port)
mkdir -p "$work/sink"
python3 - "$sink" "$work/sink" > "$work/sink.log" 2>&1 <<'PY' &
import http.server, itertools, json, sys, threading
port, out = int(sys.argv[1]), sys.argv[2]
numbers, lock = itertools.count(), threading.Lock()
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock: n = next(numbers)
        with open(f"{out}/{n:04d}.body", "wb") as f: f.write(body)
        with open(f"{out}/{n:04d}.head", "w") as f: json.dump({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}, f)
        answer = b'{"itemsReceived":1,"itemsAccepted":1,"errors":[]}' if self.path.startswith("/v2") else b"{}"
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(answer))); self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()
PY
pids+=($!)

# Postfix takes "-c DIR" only for directories the default main.cf lists (as Omni.Tests' MailServerProcess does it).
allow_postfix_dir() {
  local action=$1 dir=$2 line dirs
  line=$(grep -E '^[[:space:]]*alternate_config_directories' /etc/postfix/main.cf 2>/dev/null | head -1 | cut -d= -f2- || true)
  dirs=$(for d in $line; do if [ -d "$d" ] && [ "$d" != "$dir" ]; then echo "$d"; fi; done; if [ "$action" = add ]; then echo "$dir"; fi)
  { grep -vE '^[[:space:]]*alternate_config_directories' /etc/postfix/main.cf 2>/dev/null || true; echo "alternate_config_directories = $(echo $dirs)"; } > "$work/main.cf"
  cat "$work/main.cf" > /etc/postfix/main.cf
}

# Dovecot (IMAP with STARTTLS, LMTP, SASL for Postfix) and Postfix (smtpd with STARTTLS, delivering into Dovecot over
# LMTP) on loopback, with a self-signed certificate the handler is told to trust. Nothing system-wide runs.
mail="$work/mail"
mkdir -p "$mail"/run "$mail"/state "$mail"/maildirs "$mail"/postfix/queue "$mail"/postfix/data
chmod 755 "$work" "$mail"
chown mail:mail "$mail/maildirs"; chown postfix "$mail/postfix/data"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$mail/key.pem" -out "$mail/cert.pem" -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
chmod 644 "$mail/key.pem"
mailbox="suporte@omni.test"; mailpass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$mailbox:{PLAIN}$mailpass" > "$mail/users"
imap=$(free_port); lmtp=$(free_port); auth=$(free_port); smtp=$(free_port)
cat > "$mail/dovecot.conf" <<CONF
base_dir = $mail/run
state_dir = $mail/state
instance_name = omni-check-$(basename "$work")
log_path = $mail/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <$mail/cert.pem
ssl_key = <$mail/key.pem
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:$mail/maildirs/%d/%n
first_valid_uid = 8
mail_privileged_group =
lmtp_save_to_detail_mailbox = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $mail/users
}
userdb {
  driver = static
  args = uid=8 gid=8 home=$mail/maildirs/%d/%n allow_all_users=yes
}
service imap-login {
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp
  }
}
service auth {
  inet_listener {
    address = 127.0.0.1
    port = $auth
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
protocol lmtp {
  postmaster_address = postmaster@omni.test
}
CONF
dovecot -c "$mail/dovecot.conf" || fail "Dovecot did not start: $(tail -5 "$mail/dovecot.log" 2>/dev/null)"
cat > "$mail/postfix/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $mail/postfix/queue
data_directory = $mail/postfix/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
myhostname = mail.omni.test
mydomain = omni.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = omni.test customer.test
virtual_transport = lmtp:inet:127.0.0.1:$lmtp
relayhost =
maillog_file = /dev/stdout
smtpd_tls_cert_file = $mail/cert.pem
smtpd_tls_key_file = $mail/key.pem
smtpd_tls_security_level = may
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:$auth
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtputf8_enable = no
biff = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
alias_maps =
alias_database =
local_recipient_maps =
CONF
cat > "$mail/postfix/master.cf" <<CONF
$smtp inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CONF
# A fresh install may have no main.cf yet (the package ships none until postfix is configured): then it is created.
{ [ -w /etc/postfix/main.cf ] || { [ ! -e /etc/postfix/main.cf ] && [ -w /etc/postfix ]; }; } \
  || fail "/etc/postfix/main.cf is not writable: run as root (Postfix takes -c DIR only for a directory listed there)"
allow_postfix_dir add "$mail/postfix"
/usr/sbin/postfix -c "$mail/postfix" set-permissions >/dev/null 2>&1 || true
/usr/sbin/postfix -c "$mail/postfix" start-fg > "$mail/postfix.log" 2>&1 &
pids+=($!)
for p in "$imap" "$lmtp" "$smtp"; do
  for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || fail "the mail servers did not listen on 127.0.0.1:$p within 30 s"
done

port=$(free_port)
admin=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
start=$(date +%s%N)
(cd "$app" && exec env FUNCTIONS_CUSTOMHANDLER_PORT="$port" FUNCTIONS_CUSTOMHANDLER_WORKER_ID="$(cat /proc/sys/kernel/random/uuid)" \
  FUNCTIONS_APP_ROOT_PATH="$app" AzureWebJobsStorage="$storage" \
  Omni__AdminToken="$admin" Omni__SecretsKey="$(head -c 32 /dev/urandom | base64)" \
  Omni__Webhooks__AllowPrivateTargets=true Omni__Email__AllowPrivateHosts=true Omni__Email__TrustedCertificatesFile="$mail/cert.pem" \
  APPLICATIONINSIGHTS_CONNECTION_STRING="InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:$sink/" \
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
# transaction), the conversation's history, and an agent's reply (its webhook delivery staged and queued).
code=$(status -X POST "$base/api/companies/$id/services" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{"name":"Suporte"}')
[ "$code" = 201 ] || fail "POST services answered $code: $(cat "$work/body")"
service=$(jq -r .id "$work/body")
code=$(status -X POST "$base/api/companies/$id/channels" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d "{\"type\":\"omni\",\"name\":\"ERP\",\"serviceId\":\"$service\",\"settings\":{\"webhookUrl\":\"http://127.0.0.1:$sink/hook\"}}")
[ "$code" = 201 ] || fail "POST channels answered $code: $(cat "$work/body")"
channel=$(jq -r .id "$work/body")
whsecret=$(jq -r '.webhookSecret // empty' "$work/body")
[ -n "$whsecret" ] || fail "the new omni channel showed no webhookSecret: $(cat "$work/body")"
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
reply=$(jq -r .messageId "$work/body")

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

# Timer and queue functions, invoked as the Functions host invokes a custom handler: POST /{Name} with the binding's
# value under Data (a queue message's text JSON-encoded once more, its metadata as quoted strings) and sys metadata,
# answered 200 with {Outputs, Logs, ReturnValue}. The handler runs no trigger loop of its own here (FUNCTIONS_CUSTOMHANDLER_PORT
# is set), so these POSTs are the only consumers of the queues, and each message is taken from the real queue.
invoke() {
  local name=$1 data=$2 metadata=$3 code
  code=$(status -X POST "$base/$name" -H 'Content-Type: application/json' -H "X-Azure-Functions-InvocationId: $(cat /proc/sys/kernel/random/uuid)" \
    -H 'X-Azure-Functions-HostVersion: 4.1041.200.0' -d "{\"Data\":$data,\"Metadata\":$metadata}")
  [ "$code" = 200 ] && jq -e 'has("Outputs") and has("Logs") and has("ReturnValue")' "$work/body" >/dev/null \
    || fail "the $name invocation answered $code: $(cat "$work/body")"
}
sys_metadata() { jq -nc --arg m "$1" --arg now "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" --arg g "$(cat /proc/sys/kernel/random/uuid)" '{MethodName: $m, UtcNow: $now, RandGuid: $g}'; }
invoke_queue() {
  local name=$1 id=$2 text=$3 binding now
  binding=$(jq -r '[.bindings[] | select(.type == "queueTrigger")][0].name' "$app/$name/function.json")
  now=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
  invoke "$name" "$(jq -nc --arg b "$binding" --arg t "$text" '{($b): ($t | tojson)}')" \
    "$(jq -nc --arg id "$id" --arg now "$now" --argjson sys "$(sys_metadata "$name")" \
      '{Id: ($id | tojson), DequeueCount: "1", InsertionTime: $now, ExpirationTime: $now, NextVisibleTime: $now, PopReceipt: ("receipt" | tojson), sys: $sys}')"
}
invoke_timer() {
  local name=$1 binding
  binding=$(jq -r '[.bindings[] | select(.type == "timerTrigger")][0].name' "$app/$name/function.json")
  invoke "$name" "$(jq -nc --arg b "$binding" '{($b): {Schedule: {AdjustForDST: true}, ScheduleStatus: null, IsPastDue: false}}')" "{\"sys\":$(sys_metadata "$name")}"
}
# The message of the outbound-messages queue that carries message $1, sent by SendOutbound.
send_outbound() {
  local line
  line=$(peek_queue outbound-messages | grep -F "$1" | head -1 || true)
  [ -n "$line" ] || fail "message $1 is not on the outbound-messages queue"
  invoke_queue SendOutbound "${line%% *}" "${line#* }"
}
message_status() {
  code=$(status "$base/api/companies/$id/conversations/$1/messages" -H "Authorization: Bearer $admin")
  [ "$code" = 200 ] || fail "the history of conversation $1 answered $code: $(cat "$work/body")"
  jq -r --arg m "$2" '.items[] | select(.id == $m) | .status' "$work/body"
}

# The omni channel's reply staged its message.created delivery and queued it from the request (no SendOutbound on an
# omni reply); DeliverWebhook POSTs it to the sink, signed with the channel's secret (Standard Webhooks, checked here
# with openssl).
[ "$(message_status "$conversation" "$reply")" = sent ] || fail "the omni reply is not sent once accepted: $(cat "$work/body")"
deliveries=$(peek_queue webhook-deliveries || true)
[ -n "$deliveries" ] || fail "the omni reply queued no webhook delivery"
while read -r qid text; do invoke_queue DeliverWebhook "$qid" "$text"; done <<< "$deliveries"
hook=$(grep -l '"Resposta"' "$work"/sink/*.body 2>/dev/null | head -1 || true)
[ -n "$hook" ] && [ "$(jq -r .path "${hook%.body}.head")" = /hook ] || fail "DeliverWebhook posted no message.created with the reply to the sink"
jq -e --arg m "$reply" '.data.messageId == $m and .type == "message.created"' "$hook" >/dev/null || fail "the delivered event is not the reply's message.created: $(cat "$hook")"
signature=$(jq -r '."webhook-signature"' "${hook%.body}.head")
expected="v1,$( { printf '%s.%s.' "$(jq -r '."webhook-id"' "${hook%.body}.head")" "$(jq -r '."webhook-timestamp"' "${hook%.body}.head")"; cat "$hook"; } \
  | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(printf '%s' "${whsecret#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')" -binary | base64 -w0)"
[[ " $signature " == *" $expected "* ]] || fail "the webhook's signature ($signature) is not the HMAC of its id, timestamp and body with the channel's secret"
code=$(status "$base/api/audit/deliveries" -H "X-Api-Key: $apikey")
[ "$code" = 200 ] && jq -e '[.items[].status] | index("succeeded") != null' "$work/body" >/dev/null || fail "the delivery audit shows no succeeded delivery ($code): $(cat "$work/body")"

# Every timer, as its schedule would fire it.
for name in $zipped; do
  [ "$(jq -r '[.bindings[] | select(.type == "timerTrigger")] | length' "$app/$name/function.json")" = 0 ] || invoke_timer "$name"
done

# An e-mail channel on the local Dovecot and Postfix (STARTTLS on both, the certificate trusted by the handler's settings).
code=$(status -X POST "$base/api/companies/$id/channels" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d "$(jq -nc \
  --arg s "$service" --arg a "$mailbox" --arg p "$mailpass" --argjson imap "$imap" --argjson smtp "$smtp" \
  '{type: "email", name: "E-mail", serviceId: $s, settings: {address: $a, displayName: "Suporte", password: $p,
    incoming: {protocol: "imap", host: "127.0.0.1", port: $imap, ssl: false}, outgoing: {host: "127.0.0.1", port: $smtp, ssl: false}, pollSeconds: 10}}')")
[ "$code" = 201 ] || fail "POST an e-mail channel answered $code: $(cat "$work/body")"
mailchannel=$(jq -r .id "$work/body")
code=$(status -X POST "$base/api/companies/$id/channels/$mailchannel/test" -H "Authorization: Bearer $admin")
[ "$code" = 200 ] || fail "testing the e-mail channel (IMAP and SMTP logins) answered $code: $(cat "$work/body")"
jq -e '[.. | objects | select(has("ok")) | .ok] | length > 0 and all' "$work/body" >/dev/null || fail "the e-mail channel's test failed: $(cat "$work/body")"
printf 'From: Maria <maria@customer.test>\r\nTo: suporte@omni.test\r\nSubject: Pedido 123\r\nMessage-ID: <pkg-%s@customer.test>\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOlá por e-mail\r\n' \
  "$(cat /proc/sys/kernel/random/uuid)" "$(LC_ALL=C date -R)" > "$work/inbound.eml"
curl -sf --url "smtp://127.0.0.1:$smtp" --mail-from maria@customer.test --mail-rcpt "$mailbox" --upload-file "$work/inbound.eml" \
  || fail "Postfix did not take the customer's mail"
inbox="$mail/maildirs/omni.test/suporte"
for _ in $(seq 1 200); do ls "$inbox"/new/* >/dev/null 2>&1 && break; sleep 0.1; done
ls "$inbox"/new/* >/dev/null 2>&1 || fail "the customer's mail did not reach the mailbox within 20 s"
# The timer fans the mailbox's polls out (delayed messages on mailbox-polls); the poll itself is the queue function.
invoke_timer MailboxPollTimer
invoke_queue MailboxPoll "poll-$mailchannel" "$(jq -nc --arg c "$id" --arg ch "$mailchannel" '{companyId: $c, channelId: $ch}')"
code=$(status "$base/api/companies/$id/conversations?channelId=$mailchannel" -H "Authorization: Bearer $admin")
mailconversation=$(jq -r '.items[0].id // empty' "$work/body")
[ "$code" = 200 ] && [ -n "$mailconversation" ] || fail "MailboxPoll stored no conversation for the mail ($code): $(cat "$work/body")"
code=$(status "$base/api/companies/$id/conversations/$mailconversation/messages" -H "Authorization: Bearer $admin")
[ "$code" = 200 ] && jq -e '[.items[] | select(.direction == "inbound") | .text] | any(contains("Olá por e-mail"))' "$work/body" >/dev/null \
  || fail "the polled mail is not in the conversation ($code): $(cat "$work/body")"
ls "$inbox"/cur/*:2,*S* >/dev/null 2>&1 || fail "the polled mail is not marked read on the server after it was stored"
code=$(status -X POST "$base/api/companies/$id/conversations/$mailconversation/messages" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{"text":"Resposta por e-mail"}')
[ "$code" = 202 ] || fail "replying to the mail answered $code: $(cat "$work/body")"
mailreply=$(jq -r .messageId "$work/body")
send_outbound "$mailreply"
[ "$(message_status "$mailconversation" "$mailreply")" = sent ] || fail "the e-mail reply is not sent after SendOutbound: $(cat "$work/body")"
for _ in $(seq 1 200); do grep -lq "Resposta por e-mail" "$mail"/maildirs/customer.test/maria/new/* 2>/dev/null && break; sleep 0.1; done
grep -lq "Resposta por e-mail" "$mail"/maildirs/customer.test/maria/new/* 2>/dev/null || fail "the reply sent over SMTP did not reach maria@customer.test within 20 s"
grep -q "^In-Reply-To: <pkg-" "$mail"/maildirs/customer.test/maria/new/* || fail "the e-mail reply does not answer the customer's Message-ID"

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

# The Azure Monitor exporter (its batches go out every few seconds) must have reached its ingestion endpoint.
for _ in $(seq 1 300); do grep -lq '"path": "/v2.1/track"' "$work"/sink/*.head 2>/dev/null && break; sleep 0.1; done
grep -lq '"path": "/v2.1/track"' "$work"/sink/*.head 2>/dev/null || fail "the Azure Monitor exporter sent nothing to its ingestion endpoint within 30 s"
grep -qi "unhandled\|exception" "$work/handler.err" && fail "the handler wrote an exception to stderr"
size=$(( $(stat -c %s "$zipfile") / 1024 / 1024 ))
echo "check-package: OK ($mode): ${size} MB zip, first 200 on / after ${ready} ms, ${rss} MB resident, $(echo $zipped | wc -w) functions match the handler's routes; invoked DeliverWebhook (signed, to the sink), MailboxPoll (IMAP), SendOutbound (the e-mail reply, sent over SMTP) and every timer; telemetry exported"
