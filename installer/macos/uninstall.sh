#!/bin/sh
# Removes foureyes from a Mac. Run as root (sudo, or an MDM script). Each user's audit trail and
# state (~/Library/Application Support/foureyes) and keychain items stay: they are the record of
# who approved what. So do service mode's folder /var/db/foureyes (trail, state, sealed secrets
# and their key) and its user _foureyes, which owns them. The managed policy stays unless --remove-policy is given, so that removing
# and reinstalling never leaves a window with a laxer policy.
set -eu
[ "$(id -u)" -eq 0 ] || { echo "uninstall.sh: run as root" >&2; exit 1; }
for uid in $(ps -axo uid=,comm= | awk '$2 ~ /foureyes$/ {print $1}' | sort -u); do
  launchctl bootout "gui/$uid/eu.foureyes.daemon" 2>/dev/null || true
done
launchctl bootout system/eu.foureyes.service 2>/dev/null || true
launchctl disable system/eu.foureyes.service 2>/dev/null || true
rm -f /Library/LaunchAgents/eu.foureyes.daemon.plist /Library/LaunchDaemons/eu.foureyes.service.plist /usr/local/bin/foureyes
rm -rf /var/db/foureyes-socket
rm -rf /Applications/foureyes.app
for d in "/Library/Google/Chrome/NativeMessagingHosts" "/Library/Application Support/Chromium/NativeMessagingHosts" \
         "/Library/Microsoft/Edge/NativeMessagingHosts" "/Library/Application Support/Mozilla/NativeMessagingHosts"; do
  rm -f "$d/org.foureyes.host.json"
done
if [ "${1:-}" = "--remove-policy" ]; then
  rm -rf "/Library/Application Support/foureyes"
fi
pkgutil --forget eu.foureyes.pkg >/dev/null 2>&1 || true
echo "foureyes removed (the configuration profile is removed through your MDM)"
