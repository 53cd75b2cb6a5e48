#!/usr/bin/env bash
# Screenshots of the tray icon in each state, of its open menu, and of the local enrolment and
# accounts pages, into artifacts/tray/ (everything) and, with FOUREYES_UPDATE_DOCS=1, daemon/docs/images/ (the ones
# the docs use).
#
# The tray runs on a virtual X display (Xvfb) with trayer as the tray host, inside a D-Bus session
# of its own. The states come from the tray demo (daemon/internal/tray/internal/demo), which
# drives the real tray code over an in-memory backend frozen in one state; the pages are
# rendered by the real local UI server and photographed with headless Chromium. If the real
# daemon builds and shows a tray icon, it is photographed too.
#
# Needs: apt-get install xvfb trayer imagemagick x11-utils xauth xdotool dbus chromium
#        (and for the real daemon: gnome-keyring libsecret-tools, see .ci/with-keyring.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

for tool in Xvfb trayer import xdotool xwininfo dbus-run-session montage; do
	command -v "$tool" >/dev/null || {
		echo "tray-screenshots: $tool not found: apt-get install xvfb trayer imagemagick x11-utils xauth xdotool dbus" >&2
		exit 127
	}
done

out=$root/artifacts/tray
docs=$root/daemon/docs/images
mkdir -p "$out" "$docs"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/foureyes-shots.XXXXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "tray-screenshots: building the tray demo"
CGO_ENABLED=1 go build -o "$tmp/tray-demo" ./daemon/internal/tray/internal/demo

# The display is tall enough for the open menu, which drops from the tray at the top right.
width=900 height=520 panel=32
display=:${SHOT_DISPLAY:-99}

# shoot STATE: start the demo in STATE, photograph the tray, then the open menu.
cat >"$tmp/session.sh" <<'INNER'
set -euo pipefail
tmp=$1 out=$2 width=$3 height=$4 panel=$5 display=$6
export DISPLAY=$display
Xvfb "$DISPLAY" -screen 0 "${width}x${height}x24" -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
pids=()
stop() {
	# Only what this script started, newest first.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
	kill "$xvfb" 2>/dev/null || true
}
trap stop EXIT
for _ in $(seq 50); do xwininfo -root >/dev/null 2>&1 && break; sleep 0.1; done
trayer --edge top --align right --widthtype request --height "$panel" --SetDockType true --transparent false >/dev/null 2>&1 &
pids+=($!)
sleep 1

# waiticon: wait until a tray icon (systray's window) sits in trayer's panel.
waiticon() {
	for _ in $(seq 100); do
		xwininfo -root -tree 2>/dev/null | grep -q '("systray" "systray")' && return 0
		sleep 0.1
	done
	return 1
}

for state in ready busy session locked problem; do
	"$tmp/tray-demo" -state "$state" >"$tmp/demo-$state.log" 2>&1 &
	demo=$!
	pids+=($demo)
	waiticon || { echo "no tray icon for state $state" >&2; cat "$tmp/demo-$state.log" >&2; exit 1; }
	# GTK draws the icon a moment after the window appears.
	sleep 1.5
	import -window root "$tmp/root-$state.png"
	# Just the panel's end with the icon.
	convert "$tmp/root-$state.png" -crop "$((panel + 2))x${panel}+$((width - panel - 2))+0" +repage "$out/tray-$state.png"
	# Open the menu: a click on the icon (trayer puts it at the right end of the panel).
	xdotool mousemove $((width - panel / 2)) $((panel / 2)) click 1
	sleep 1.5
	import -window root "$out/menu-$state.png"
	xdotool key Escape
	kill "$demo"
	wait "$demo" 2>/dev/null || true
	unset 'pids[${#pids[@]}-1]'
	sleep 0.5
done

# The real daemon, if it builds and shows an icon within ten seconds.
if [ -x "$tmp/foureyes" ]; then
	home=$(mktemp -d "$tmp/home.XXXX")
	FOUREYES_HOME=$home bash .ci/with-keyring.sh "$tmp/foureyes" daemon >"$tmp/daemon.log" 2>&1 &
	daemon=$!
	pids+=($daemon)
	if waiticon; then
		sleep 1.5
		import -window root "$out/daemon-root.png"
		xdotool mousemove $((width - panel / 2)) $((panel / 2)) click 1
		sleep 1.5
		import -window root "$out/daemon-menu.png"
		xdotool key Escape
		echo "real daemon photographed"
	else
		echo "the real daemon showed no tray icon within 10 s (log: $(tail -n 3 "$tmp/daemon.log" | tr '\n' ' '))"
	fi
	kill "$daemon" 2>/dev/null || true
	wait "$daemon" 2>/dev/null || true
fi
INNER

if CGO_ENABLED=1 go build -o "$tmp/foureyes" ./daemon/cmd/foureyes 2>"$tmp/build.log"; then
	echo "tray-screenshots: built the real daemon too"
else
	echo "tray-screenshots: the real daemon does not build yet; photographing the demo only"
	rm -f "$tmp/foureyes"
fi

echo "tray-screenshots: photographing the tray on $display"
dbus-run-session -- bash "$tmp/session.sh" "$tmp" "$out" "$width" "$height" "$panel" "$display"

# All four icon states side by side, as the tray shows them.
labelled=()
for state in ready busy session locked problem; do labelled+=(-label "$state" "$out/tray-$state.png"); done
# A font file named outright: ImageMagick's default (helvetica) needs Ghostscript's fonts.
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
[ -f "$font" ] || { echo "tray-screenshots: $font missing (apt-get install fonts-dejavu-core)" >&2; exit 1; }
montage -background '#d9d9d9' -geometry +24+6 -tile 5x1 -font "$font" -pointsize 12 "${labelled[@]}" "$out/tray-states.png"

echo "tray-screenshots: rendering the local pages"
"$tmp/tray-demo" -pages "$tmp/pages"
if command -v chromium >/dev/null; then
	for page in enrol-1-form enrol-2-qr enrol-3-confirmed enrol-reenrol-warning accounts; do
		HOME=$tmp/chromium-home timeout 60 chromium --headless --no-sandbox --disable-gpu \
			--disable-background-networking --disable-component-update --no-first-run --disable-sync \
			--disable-quic --user-data-dir="$(mktemp -d "$tmp/profile.XXXX")" --window-size=1000,1000 \
			--hide-scrollbars --screenshot="$out/page-$page.png" "file://$tmp/pages/$page.html" >/dev/null 2>&1
	done
	# The QR code must still scan after being drawn by a browser.
	if command -v zbarimg >/dev/null; then
		zbarimg --quiet --raw "$out/page-enrol-2-qr.png" 2>/dev/null | grep -q '^otpauth://totp/' ||
			{ echo "tray-screenshots: the QR code on the enrolment page does not scan" >&2; exit 1; }
	fi
else
	echo "tray-screenshots: chromium not found; pages not photographed (apt-get install chromium)"
fi

# The docs' images change only when asked (FOUREYES_UPDATE_DOCS=1), so a test run leaves the
# checkout as it found it.
if [ "${FOUREYES_UPDATE_DOCS:-}" = 1 ]; then
	cp "$out/tray-states.png" "$docs/tray-states.png"
	cp "$out/menu-session.png" "$docs/tray-menu-session.png"
	cp "$out/menu-problem.png" "$docs/tray-menu-problem.png"
	for page in enrol-2-qr accounts; do
		if [ -f "$out/page-$page.png" ]; then cp "$out/page-$page.png" "$docs/page-$page.png"; fi
	done
	echo "tray-screenshots: wrote $(ls "$out" | wc -l) files to artifacts/tray/, docs images to daemon/docs/images/"
else
	echo "tray-screenshots: wrote $(ls "$out" | wc -l) files to artifacts/tray/ (FOUREYES_UPDATE_DOCS=1 also refreshes daemon/docs/images/)"
fi
