#!/usr/bin/env bash
# Runs the whole app locally: Azurite (the storage emulator), then the app on http://localhost:7071,
# which also runs the timer and queue functions itself. Ctrl+C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v dotnet >/dev/null || { echo "error: the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "error: Node.js and npm are required for Azurite" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error

mkdir -p .local/azurite
# Local secrets, made once and kept out of git: the admin token and the key that encrypts channel secrets.
if [ ! -f .local/dev.env ]; then
  umask 077
  {
    echo "Omni__AdminToken=$(openssl rand -hex 32)"
    echo "Omni__SecretsKey=$(openssl rand -base64 32)"
  } > .local/dev.env
fi
set -a; . .local/dev.env; set +a
export Omni__Webhooks__AllowPrivateTargets=${Omni__Webhooks__AllowPrivateTargets:-true}
export Omni__Email__AllowPrivateHosts=${Omni__Email__AllowPrivateHosts:-true}
export ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development}
export AzureWebJobsStorage=${AzureWebJobsStorage:-UseDevelopmentStorage=true}

node_modules/.bin/azurite --silent --skipApiVersionCheck --location .local/azurite > .local/azurite.log 2>&1 &
azurite=$!
trap 'kill $azurite 2>/dev/null || true' EXIT

echo "Admin token: see .local/dev.env (Omni__AdminToken)"
dotnet run --project Omni.Functions -- --urls "${ASPNETCORE_URLS:-http://localhost:7071}"
