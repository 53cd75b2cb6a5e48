#!/usr/bin/env bash
# Idle cost of the foureyes daemon with its tray, next to KeePassXC (a tray app people already
# accept running all day), measured side by side under the same virtual desktop in one run:
#
#   RSS, PSS   resident memory (VmRSS from /proc/PID/status; PSS from smaps_rollup, which
#              splits shared libraries between the processes using them)
#   USS        private memory: Private_Clean + Private_Dirty from smaps_rollup, the memory that
#              would be given back if the process ended (its heap, stacks, and the pages of its
#              binary and libraries no other process maps)
#   wakeups    context switches per minute summed over all threads (voluntary_ctxt_switches
#              and nonvoluntary_ctxt_switches of /proc/PID/task/*/status; the voluntary ones,
#              a thread going to sleep to wait for a timer or an event, also on their own): how
#              often the process makes the CPU wake for it
#   CPU        CPU time per minute, summed over the threads (/proc/PID/task/*/schedstat, in ns)
#
# Processes measured:
#   foureyes daemon  the real daemon (FOUREYES_HOME in a temporary folder, a private keyring),
#                    with its tray and again with --headless; each has a bridge port of its own
#                    (BENCH_PORT and the one after, 47391 by default), so neither spends the run
#                    retrying a port the other or another daemon on the machine holds, and a
#                    copy of the binary of its own, so neither shares the binary's pages with
#                    the other and both USS figures count them
#   service mode     `foureyes service` as an OS user of its own (BENCH_SERVICE_USER, nobody by
#                    default; the script must run as root for it), with its bridge on the port
#                    after the headless daemon's, and this desktop user's `foureyes tray`, its
#                    client over the socket: the pair that replaces the daemon with its tray
#   tray shell       the tray code alone over an in-memory backend (the tray demo): what the
#                    icon and menu cost by themselves
#   floor            a bare getlantern/systray program with one icon and one menu item
#                    (daemon/internal/tray/internal/floor): what any Go tray app on this toolkit
#                    pays before doing anything
#   keepassxc        KeePassXC with a tray icon, minimised, no database open
#
# It ends with the ratios the targets are set in (the daemon's USS over the floor's, its
# wake-ups over KeePassXC's) and the wake-ups of each thread of the two daemons, named by the
# thread's name (Go's own threads are all called foureyes; GTK's are gmain, gdbus, ...).
#
# The daemon gives idle memory back 30 s after start-up (and after each burst of activity), so
# the run waits BENCH_SETTLE=40 s before measuring: the figures are those of a daemon at rest.
# With BENCH_SETTLE=10 the window holds that one trim, and its wake-ups.
#
# Usage: daemon/scripts/bench-idle.sh            (BENCH_SECONDS=60 by default, BENCH_SETTLE=40)
#        run as root for the service-mode pair (BENCH_SERVICE_USER=nobody by default)
# Needs: apt-get install xvfb trayer x11-utils dbus gnome-keyring libsecret-tools keepassxc
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
seconds=${BENCH_SECONDS:-60}
settle=${BENCH_SETTLE:-40}
display=:${BENCH_DISPLAY:-98}
port=${BENCH_PORT:-47391}

for tool in Xvfb trayer xwininfo dbus-run-session; do
	command -v "$tool" >/dev/null || {
		echo "bench-idle: $tool not found: apt-get install xvfb trayer x11-utils dbus" >&2
		exit 127
	}
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/foureyes-bench.XXXXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "bench-idle: building"
CGO_ENABLED=1 go build -o "$tmp/tray-demo" ./daemon/internal/tray/internal/demo
CGO_ENABLED=1 go build -o "$tmp/foureyes" ./daemon/cmd/foureyes
mkdir "$tmp/headless"
cp "$tmp/foureyes" "$tmp/headless/foureyes"
printf '{"version": 1, "bridge_port": %d}\n' "$port" >"$tmp/policy-tray.json"
printf '{"version": 1, "bridge_port": %d}\n' $((port + 1)) >"$tmp/policy-headless.json"
printf '{"version": 1, "bridge_port": %d, "default_approvers": ["anna"], "audit": {"syslog": false}}\n' $((port + 2)) >"$tmp/policy-service.json"
mkdir "$tmp/service" "$tmp/servicetray"
cp "$tmp/foureyes" "$tmp/service/foureyes"
cp "$tmp/foureyes" "$tmp/servicetray/foureyes"
CGO_ENABLED=1 go build -o "$tmp/floor" ./daemon/internal/tray/internal/floor

cat >"$tmp/session.sh" <<'INNER'
set -euo pipefail
tmp=$1 seconds=$2 settle=$3 display=$4 svcuser=$5
export DISPLAY=$display
Xvfb "$DISPLAY" -screen 0 1024x200x24 -nolisten tcp >/dev/null 2>&1 &
pids=($!)
stop() {
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop EXIT
for _ in $(seq 50); do xwininfo -root >/dev/null 2>&1 && break; sleep 0.1; done
trayer --edge top --align right --widthtype request --height 32 --SetDockType true --transparent false >/dev/null 2>&1 &
pids+=($!)
sleep 1

# descendants PID: every process below PID.
descendants() {
	local c
	for c in $(pgrep -P "$1" || true); do
		echo "$c"
		descendants "$c"
	done
}
# find_below PID COMM: the process named COMM at or below PID, waiting up to 10 s for it.
find_below() {
	local p _
	for _ in $(seq 100); do
		for p in "$1" $(descendants "$1"); do
			if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ]; then
				echo "$p"
				return 0
			fi
		done
		sleep 0.1
	done
	return 1
}
trayicons() { xwininfo -root -tree 2>/dev/null | grep -c '("systray" "systray")' || true; }

names=() measured=()

# The real daemon, inside a private keyring session (.ci/with-keyring.sh).
home=$(mktemp -d "$tmp/home.XXXX")
before=$(trayicons)
FOUREYES_HOME=$home FOUREYES_POLICY=$tmp/policy-tray.json bash .ci/with-keyring.sh "$tmp/foureyes" daemon >"$tmp/daemon.log" 2>&1 &
pids+=($!)
daemon=$(find_below $! foureyes) || { echo "bench-idle: the daemon did not start:" >&2; cat "$tmp/daemon.log" >&2; exit 1; }
measured+=("$daemon")
sleep 3
if [ "$(trayicons)" -gt "$before" ]; then names+=("foureyes daemon (with tray)"); else names+=("foureyes daemon (no tray icon)"); fi

# The same daemon without its tray, to tell the tray's cost from the rest of the daemon's.
home2=$(mktemp -d "$tmp/home.XXXX")
FOUREYES_HOME=$home2 FOUREYES_POLICY=$tmp/policy-headless.json bash .ci/with-keyring.sh "$tmp/headless/foureyes" daemon --headless >"$tmp/daemon-headless.log" 2>&1 &
pids+=($!)
headless=$(find_below $! foureyes) || { echo "bench-idle: the headless daemon did not start:" >&2; cat "$tmp/daemon-headless.log" >&2; exit 1; }
measured+=("$headless")
names+=("foureyes daemon --headless")

# Service mode: the service under an OS user of its own, as systemd runs it, and this user's
# tray as its client (a runtime folder of its own, so its tray lock is not the daemon's above).
service='' servicetray=''
if [ "$(id -u)" = 0 ] && id "$svcuser" >/dev/null 2>&1; then
	chmod 755 "$tmp"
	mkdir -p "$tmp/svc/state" "$tmp/rt-tray"
	chmod 700 "$tmp/svc/state" "$tmp/rt-tray"
	chown -R "$svcuser" "$tmp/svc"
	setpriv --reuid="$svcuser" --regid="$(id -g "$svcuser")" --clear-groups env -i PATH=/usr/bin:/bin \
		"$tmp/service/foureyes" service --state-dir "$tmp/svc/state" --socket "$tmp/svc/run/foureyes.sock" \
		--policy "$tmp/policy-service.json" >"$tmp/service.log" 2>&1 &
	pids+=($!)
	service=$!
	for _ in $(seq 100); do [ -S "$tmp/svc/run/foureyes.sock" ] && break; sleep 0.1; done
	measured+=("$service")
	names+=("foureyes service")
	before=$(trayicons)
	FOUREYES_SOCKET=$tmp/svc/run/foureyes.sock XDG_RUNTIME_DIR=$tmp/rt-tray XDG_STATE_HOME=$tmp/rt-tray \
		"$tmp/servicetray/foureyes" tray >"$tmp/service-tray.log" 2>&1 &
	pids+=($!)
	servicetray=$!
	measured+=("$servicetray")
	sleep 3
	if [ "$(trayicons)" -gt "$before" ]; then names+=("foureyes tray (service mode)"); else names+=("foureyes tray (no tray icon)"); fi
else
	echo "bench-idle: service mode not measured: run as root, with the OS user $svcuser (BENCH_SERVICE_USER)" >&2
fi

"$tmp/tray-demo" -state ready >"$tmp/demo.log" 2>&1 &
pids+=($!)
measured+=($!)
names+=("tray shell alone (demo)")

"$tmp/floor" >"$tmp/floor.log" 2>&1 &
pids+=($!)
floor=$!
measured+=($!)
names+=("floor: bare systray, 1 item")

if command -v keepassxc >/dev/null; then
	mkdir -p "$tmp/kpx/config/keepassxc" "$tmp/kpx/home"
	cat >"$tmp/kpx/config/keepassxc/keepassxc.ini" <<'INI'
[General]
ConfigVersion=2
UpdateCheckMessageShown=true

[GUI]
ShowTrayIcon=true
MinimizeToTray=true
MinimizeOnStartup=true
CheckForUpdates=false
INI
	HOME=$tmp/kpx/home XDG_CONFIG_HOME=$tmp/kpx/config XDG_DATA_HOME=$tmp/kpx/data XDG_CACHE_HOME=$tmp/kpx/cache \
		QT_QPA_PLATFORM=xcb keepassxc >"$tmp/keepassxc.log" 2>&1 &
	pids+=($!)
	kpx=$!
	measured+=($!)
	names+=("keepassxc (tray, no database)")
else
	echo "bench-idle: keepassxc not installed; measuring foureyes only (apt-get install keepassxc)" >&2
fi

# Every process and icon is up: ask each daemon and the service for its status. That is activity,
# after which each gives memory back once idle again, so the trims come after the last start
# (without this, in two runs of four the daemon with its tray measured about 8 MiB more, its
# figure from before it gave memory back).
FOUREYES_HOME=$home "$tmp/foureyes" status >/dev/null 2>&1 || true
FOUREYES_HOME=$home2 "$tmp/foureyes" status >/dev/null 2>&1 || true
if [ -n "$service" ] && ! FOUREYES_SOCKET=$tmp/svc/run/foureyes.sock "$tmp/foureyes" status >"$tmp/service-status.txt" 2>&1; then
	echo "bench-idle: the service reports a problem, so its figures include it:" >&2
	cat "$tmp/service-status.txt" >&2
fi
sleep "$settle"

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
uss() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s + 0}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }
# ctxsnap PID: one line per thread: tid, all context switches, voluntary ones.
ctxsnap() {
	local f
	for f in /proc/"$1"/task/*/status; do
		awk -v tid="$(basename "$(dirname "$f")")" '/^voluntary_ctxt_switches:/ {v = $2} /^nonvoluntary_ctxt_switches:/ {n = $2}
			END {print tid, v + n, v}' "$f" 2>/dev/null || true
	done
}
# threadnames PID: one line per thread: tid, name.
threadnames() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "$(basename "$t") $(cat "$t/comm" 2>/dev/null || echo '?')"
	done
}
# ctxdelta BEFORE AFTER: switches since BEFORE, per thread, so a thread that ended between the
# two snapshots does not make the sum go down (its last switches are lost instead).
ctxdelta() {
	awk 'NR == FNR {a[$1] = $2; v[$1] = $3; next} {da += $2 - a[$1]; dv += $3 - v[$1]} END {print da + 0, dv + 0}' "$1" "$2"
}
# CPU time in nanoseconds summed over the threads (the first field of each thread's schedstat):
# finer than the clock ticks of /proc/PID/stat, which round an idle minute's few ms to 0.
cpuns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

declare -a t0
for i in "${!measured[@]}"; do
	ctxsnap "${measured[i]}" >"$tmp/ctx0.$i"
	t0[i]=$(cpuns "${measured[i]}")
done
echo "bench-idle: measuring ${#measured[@]} idle processes for ${seconds} s"
sleep "$seconds"

printf '\n%-32s %9s %9s %9s %8s %15s %13s %11s\n' "process" "RSS MiB" "PSS MiB" "USS MiB" "threads" "wakeups/min" "(voluntary)" "CPU ms/min"
declare -A ussof wakeof
for i in "${!measured[@]}"; do
	p=${measured[i]}
	if [ ! -d "/proc/$p" ]; then
		printf '%-32s %s\n' "${names[i]}" "exited during the run"
		continue
	fi
	ctxsnap "$p" >"$tmp/ctx1.$i"
	threadnames "$p" >"$tmp/names.$i"
	read -r dc dv < <(ctxdelta "$tmp/ctx0.$i" "$tmp/ctx1.$i")
	t=$(cpuns "$p")
	u=$(uss "$p")
	ussof[$p]=$u
	wakeof[$p]=$(awk -v dc="$dc" -v s="$seconds" 'BEGIN {printf "%.1f", dc*60/s}')
	awk -v n="${names[i]}" -v rss="$(rss "$p")" -v pss="$(pss "$p")" -v uss="$u" -v th="$(threads "$p")" \
		-v dc="$dc" -v dv="$dv" -v dt=$((t - t0[i])) -v s="$seconds" \
		'BEGIN {printf "%-32s %9.1f %9.1f %9.1f %8d %15.0f %13.0f %11.2f\n", n, rss/1024, pss/1024, uss/1024, th, dc*60/s, dv*60/s, dt/1e6*60/s}'
done

# The ratios the targets are set in.
echo
if [ -n "${ussof[$daemon]:-}" ] && [ -n "${ussof[$floor]:-}" ]; then
	awk -v d="${ussof[$daemon]}" -v h="${ussof[$headless]:-0}" -v f="${ussof[$floor]}" 'BEGIN {
		printf "USS daemon with tray / floor:   %.2fx (%.1f / %.1f MiB)\n", d/f, d/1024, f/1024
		if (h > 0) printf "USS daemon --headless / floor:  %.2fx (%.1f / %.1f MiB)\n", h/f, h/1024, f/1024 }'
fi
if [ -n "${kpx:-}" ] && [ -n "${wakeof[$kpx]:-}" ] && [ -n "${wakeof[$daemon]:-}" ]; then
	awk -v d="${wakeof[$daemon]}" -v h="${wakeof[$headless]:-0}" -v k="${wakeof[$kpx]}" 'BEGIN {
		printf "wake-ups/min daemon with tray:  %.0f, KeePassXC %.0f (%s)\n", d, k, (d <= k ? "no higher" : sprintf("%.0f more", d - k))
		printf "wake-ups/min daemon --headless: %.0f, KeePassXC %.0f (%s)\n", h, k, (h <= k ? "no higher" : sprintf("%.0f more", h - k)) }'
fi

if [ -n "$service" ] && [ -n "${ussof[$service]:-}" ] && [ -n "${ussof[$servicetray]:-}" ] && [ -n "${ussof[$daemon]:-}" ]; then
	awk -v s="${ussof[$service]}" -v t="${ussof[$servicetray]}" -v d="${ussof[$daemon]}" 'BEGIN {
		printf "USS service + its tray:         %.1f MiB (%.1f + %.1f), daemon with tray %.1f MiB\n", (s+t)/1024, s/1024, t/1024, d/1024 }'
fi

# Where the daemons' wake-ups come from: each thread's switches in the window.
for i in 0 1; do
	[ -f "$tmp/ctx1.$i" ] || continue
	echo
	echo "wake-ups/min by thread, ${names[i]}:"
	awk -v s="$seconds" 'FILENAME == ARGV[1] {a[$1] = $2; next} FILENAME == ARGV[2] {n[$1] = substr($0, length($1) + 2); next}
		{d = $2 - a[$1]; if (d > 0) printf "  %-8s %-18s %6.0f\n", $1, n[$1], d*60/s}' \
		"$tmp/ctx0.$i" "$tmp/names.$i" "$tmp/ctx1.$i" | sort -k3 -n -r
done
# Where the private memory is, with BENCH_SMAPS=1: the largest mappings by USS, named by file
# (anonymous memory, the Go heap and stacks among it, shows as "anon").
if [ "${BENCH_SMAPS:-0}" = 1 ]; then
	for i in "${!measured[@]}"; do
		p=${measured[i]}
		[ -r "/proc/$p/smaps" ] || continue
		echo
		echo "USS by mapping, ${names[i]}:"
		awk '/^[0-9a-f]+-[0-9a-f]+ / {name = (NF >= 6 ? $6 : "anon")} /^Private_(Clean|Dirty):/ {u[name] += $2}
			END {for (n in u) if (u[n] >= 256) printf "  %8.1f MiB  %s\n", u[n]/1024, n}' "/proc/$p/smaps" | sort -n -r | head -12
	done
fi

echo
for log in daemon daemon-headless; do
	if grep -q 'CANNOT CONNECT' "$tmp/$log.log"; then
		echo "bench-idle: $log: its bridge port was taken, so its figures include the retries (set BENCH_PORT)" >&2
	fi
done
# Stop the daemons themselves: the keyring wrapper does not pass signals on.
kill "$daemon" "$headless" 2>/dev/null || true
grep -h 'foureyes tray:' "$tmp/service-tray.log" 2>/dev/null | grep -v 'showing the tray' >&2 || true
INNER

dbus-run-session -- bash "$tmp/session.sh" "$tmp" "$seconds" "$settle" "$display" "${BENCH_SERVICE_USER:-nobody}" 2>"$tmp/session.err" || {
	cat "$tmp/session.err" >&2
	exit 1
}
