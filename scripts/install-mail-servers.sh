#!/usr/bin/env bash
# Installs Dovecot (IMAP, POP3, LMTP) and Postfix from Debian for the e-mail tests. The test suite
# starts its own instances on loopback ports with its own configuration; nothing system-wide runs.
set -euo pipefail
missing=()
for cmd in dovecot:dovecot-imapd postfix:postfix; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${cmd%%:*}" ] || missing+=("${cmd##*:}")
done
dpkg -s dovecot-pop3d >/dev/null 2>&1 || missing+=(dovecot-pop3d)
dpkg -s dovecot-lmtpd >/dev/null 2>&1 || missing+=(dovecot-lmtpd)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "error: installing ${missing[*]} needs root (apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix >/dev/null
# Debian starts nothing here (no init system), but stop anything a package may have launched.
(dovecot stop || true; postfix stop || true) >/dev/null 2>&1
