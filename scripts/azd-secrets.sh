#!/usr/bin/env bash
# azd preprovision hook: makes the platform admin token and the channel-secrets key once per azd environment and
# keeps them in it (.azure/<env>/.env, git-ignored), so every 'azd provision' passes the same values to
# infra/main.bicep (main.parameters.json maps OMNI_ADMIN_TOKEN and OMNI_SECRETS_KEY). An existing value is never
# replaced: a new secrets key would make every stored channel secret unreadable.
set -euo pipefail
command -v azd >/dev/null || { echo "error: run this as an azd hook (azd provision / azd up)" >&2; exit 1; }
if [ -z "${OMNI_ADMIN_TOKEN:-}" ]; then
  azd env set OMNI_ADMIN_TOKEN "$(openssl rand -hex 32)" >/dev/null
  echo "azd-secrets: made OMNI_ADMIN_TOKEN (read it with: azd env get-value OMNI_ADMIN_TOKEN)"
fi
if [ -z "${OMNI_SECRETS_KEY:-}" ]; then
  azd env set OMNI_SECRETS_KEY "$(openssl rand -base64 32)" >/dev/null
  echo "azd-secrets: made OMNI_SECRETS_KEY; back it up: losing it loses every stored channel secret"
fi
