#!/usr/bin/env bash
# Runs a command against a private, unlocked OS keyring (Secret Service), so keyring code can be
# tested on a headless machine without touching the user's own keyring:
#
#   bash scripts/with-keyring.sh env FOUREYES_KEYRING_TEST=1 go test ./daemon/internal/custody/...
#
# The command gets its own D-Bus session with gnome-keyring-daemon, a fresh HOME and
# XDG_RUNTIME_DIR (both removed afterwards), and the real Go caches so nothing is rebuilt. The
# script exits with the command's status and leaves no bus or keyring daemon running.
# Needs: apt-get install gnome-keyring dbus libsecret-tools
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 COMMAND [ARG...]" >&2
	exit 2
fi
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
# Every process of the session inherits this marker, which is how leftovers are found below.
marker="FOUREYES_WITH_KEYRING=$tmp"

# Prints the pids of processes that carry this run's marker.
session_pids() {
	[ -d /proc/self ] || return 0
	local p
	for p in /proc/[0-9]*; do
		# Processes may end while being looked at; their errors are noise.
		if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "$marker"; then
			echo "${p#/proc/}"
		fi
	done
}

cleanup() {
	local left i
	# gnome-keyring-daemon exits when its bus goes away; give it a moment.
	for i in $(seq 50); do
		left=$(session_pids)
		[ -z "$left" ] && break
		sleep 0.1
	done
	if [ -n "$left" ]; then
		echo "with-keyring: stopping processes left behind by the session: $(echo $left)" >&2
		kill $left 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -m 0700 "$tmp/home" "$tmp/run"

# Nothing may point at the real user's keyring, bus or XDG directories.
unset DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL SSH_AUTH_SOCK \
	XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_STATE_HOME

status=0
env "$marker" HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/run" \
	dbus-run-session -- sh -c '
		# A fresh HOME gets a new login keyring protected by this password, then unlocked.
		printf %s foureyes-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
		exec "$@"
	' with-keyring "$@" || status=$?
exit "$status"
