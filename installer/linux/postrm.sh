#!/bin/sh
# After removing foureyes. On purge (dpkg) or erase (rpm): the sealing key's credential and its
# drop-in go, so the sealed secrets in /var/lib/foureyes can no longer be opened; the audit trail
# there is kept (evidence: delete the folder by hand once it is archived). The foureyes OS user is
# kept, as Debian does for system users, so files it owns never get a new owner.
set -e
case "$1" in
purge | 0)
	rm -f /etc/credstore.encrypted/foureyes-secrets.key /etc/systemd/system/foureyes.service.d/credential.conf
	rmdir /etc/systemd/system/foureyes.service.d 2>/dev/null || true
	rmdir /etc/credstore.encrypted 2>/dev/null || true
	;;
esac
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
