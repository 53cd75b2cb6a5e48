#!/bin/sh
# After installing or upgrading foureyes: the OS user of service mode, and the key that seals
# its secrets. Service mode itself stays off (foureyes.service is not enabled): user mode is the
# default until IT runs `systemctl enable --now foureyes.service`.
set -e

if ! getent passwd foureyes >/dev/null; then
	useradd --system --user-group --no-create-home --home-dir /var/lib/foureyes \
		--shell /usr/sbin/nologin --comment "foureyes service mode" foureyes
fi

# The sealing key as a systemd credential (encrypted with this machine's credential secret or
# TPM, decrypted by systemd for the service alone), made once, and only while no secrets are
# sealed yet: secrets sealed with the key file must keep that key.
cred=/etc/credstore.encrypted/foureyes-secrets.key
dropin=/etc/systemd/system/foureyes.service.d/credential.conf
if [ ! -e "$cred" ] && [ ! -e /var/lib/foureyes/secrets ] && command -v systemd-creds >/dev/null 2>&1; then
	(umask 077; mkdir -p /etc/credstore.encrypted)
	if (umask 077; head -c 32 /dev/urandom | systemd-creds encrypt --name=secrets.key - "$cred.new"); then
		mv "$cred.new" "$cred"
	else
		rm -f "$cred.new"
		echo "foureyes: no systemd credential for the sealing key; service mode will use the key file /var/lib/foureyes/secrets.key" >&2
	fi
fi
if [ -e "$cred" ] && [ ! -e "$dropin" ]; then
	mkdir -p "$(dirname "$dropin")"
	cat >"$dropin" <<UNIT
# Written by the foureyes package: the key that seals the service's secrets.
[Service]
LoadCredentialEncrypted=secrets.key:$cred
UNIT
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
