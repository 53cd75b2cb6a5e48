#!/usr/bin/env bash
# Runs a command against a private, unlocked OS keyring (Secret Service), so keyring code can be
# tested on a headless machine without touching the user's own keyring:
#
#   bash .ci/with-keyring.sh env FOUREYES_KEYRING_TEST=1 go test ./daemon/internal/custody/...
#
# The command gets its own D-Bus session with gnome-keyring-daemon, a fresh HOME and
# XDG_RUNTIME_DIR (both removed afterwards), and the real Go caches so nothing is rebuilt. The
# script exits with the command's status and leaves no bus or keyring daemon running.
# Needs: apt-get install gnome-keyring dbus libsecret-tools
set -euo pipefail

# Prints the pids of processes that carry this run's marker (one grep, however many processes).
session_pids() {
	[ -d /proc/self ] || return 0
	grep -lzxF "$marker" /proc/[0-9]*/environ 2>/dev/null | sed 's|^/proc/\([0-9]*\)/environ$|\1|' || true
}

cleanup() {
	local left i
	# gnome-keyring-daemon usually exits when its bus goes away, but not when the bus ends
	# before the daemon has settled on it; stop what is left, by pid.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		left=$(session_pids)
		[ -z "$left" ] && break
		if [ "$i" -eq 5 ]; then kill $left 2>/dev/null || true; fi
		sleep 0.2
	done
	if [ -n "$left" ]; then
		kill -KILL $left 2>/dev/null || true
	fi
	rm -rf "$tmp"
}

main() {
	if [ "$#" -eq 0 ]; then
		echo "usage: $0 COMMAND [ARG...]" >&2
		exit 2
	fi
	local tool
	for tool in dbus-run-session gnome-keyring-daemon; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "with-keyring: $tool not found: apt-get install gnome-keyring dbus libsecret-tools" >&2
			exit 127
		fi
	done

	# The Go caches and settings live under HOME by default; pin them before HOME moves.
	if command -v go >/dev/null 2>&1; then
		GOPATH=$(go env GOPATH)
		GOCACHE=$(go env GOCACHE)
		GOMODCACHE=$(go env GOMODCACHE)
		GOENV=$(go env GOENV)
		export GOPATH GOCACHE GOMODCACHE GOENV
	fi

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/foureyes-keyring.XXXXXXXX")
	# Every process of the session inherits this marker, which is how leftovers are found.
	marker="FOUREYES_WITH_KEYRING=$tmp"
	trap cleanup EXIT
	mkdir -m 0700 "$tmp/home" "$tmp/run"

	# Nothing may point at the real user's keyring, bus or XDG directories.
	unset DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL SSH_AUTH_SOCK \
		XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_STATE_HOME

	local status=0
	env "$marker" HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/run" \
		dbus-run-session -- sh -c '
			# A fresh HOME gets a new login keyring protected by this password, then unlocked.
			printf %s foureyes-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
			# The daemon claims its bus name a moment after --unlock returns. Wait for it, so
			# the command does not race it and the daemon is on the bus to see it end.
			if command -v dbus-send >/dev/null 2>&1; then
				i=0
				until dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
					/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
					string:org.freedesktop.secrets 2>/dev/null | grep -q true; do
					i=$((i + 1))
					if [ "$i" -ge 50 ]; then
						echo "with-keyring: the Secret Service did not appear on the bus" >&2
						break
					fi
					sleep 0.1
				done
			fi
			exec "$@"
		' with-keyring "$@" || status=$?
	exit "$status"
}

# Everything runs from main, so bash has read the whole file before it starts: editing the
# script cannot change a run already under way.
main "$@"
