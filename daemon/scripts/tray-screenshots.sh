#!/usr/bin/env bash
# Screenshots of the tray icon in each state, of its open menu, and of the local enrolment and
# accounts pages, into artifacts/tray/ (everything) and, with FOUREYES_UPDATE_DOCS=1, daemon/docs/images/ (the ones
# the docs use).
#
# The tray runs on a virtual X display (Xvfb) with trayer as the tray host, inside a D-Bus session
# of its own. The states come from the tray demo (daemon/internal/tray/internal/demo), which
# drives the real tray code over an in-memory backend frozen in one state; the pages are
# rendered by the real local UI server and photographed with headless Chromium. The real daemon,
# in a private keyring session, must show its icon and menu too.
#
# Needs: apt-get install xvfb trayer imagemagick x11-utils xauth xdotool dbus chromium
#        (and for the real daemon: gnome-keyring libsecret-tools, see .ci/with-keyring.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

# skip WHAT MISSING: a part cannot run because MISSING is not installed. Outside CI it is left out
# and counted as skipped (in $FOUREYES_SKIPS when .ci/test.sh runs this); with CI=true it fails.
skip() {
	if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
		echo "tray-screenshots: FAIL: $1 needs $2; with CI=true a missing prerequisite fails the run" >&2
		return 1
	fi
	echo "tray-screenshots: SKIP $1: needs $2"
	[ -z "${FOUREYES_SKIPS:-}" ] || echo "tray: $1: needs $2" >>"$FOUREYES_SKIPS"
}

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

# Every wait below is for something on the display (a window mapped, pixels drawn), checked ten
# times a second; the limit only turns "never happened" into a failure that says what.
# until_ok SECONDS WHAT COMMAND...: run COMMAND until it succeeds; fail naming WHAT after SECONDS.
until_ok() {
	local limit=$1 what=$2 i
	shift 2
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	echo "tray-screenshots: waited ${limit} s for $what" >&2
	return 1
}
wintree() { xwininfo -root -tree 2>/dev/null; }
# icon_geom prints "W H X Y" of the tray icon (systray's window inside trayer's panel).
icon_geom() {
	wintree | grep '("systray" "systray")' | head -1 |
		sed -E 's/.* ([0-9]+)x([0-9]+)\+-?[0-9]+\+-?[0-9]+ +\+(-?[0-9]+)\+(-?[0-9]+).*/\1 \2 \3 \4/'
}
has_icon() { [ -n "$(icon_geom)" ]; }
no_icon() { ! has_icon; }
panel_up() { wintree | grep -q '("panel" "trayer")'; }
# menu_id prints the id of an open menu: a viewable override-redirect window on the screen.
menu_id() {
	local w info
	for w in $(xwininfo -root -children 2>/dev/null | grep -oE '^ +0x[0-9a-f]+'); do
		info=$(xwininfo -id "$w" 2>/dev/null) || continue
		grep -q 'Map State: IsViewable' <<<"$info" || continue
		grep -q 'Override Redirect State: yes' <<<"$info" || continue
		[ "$(sed -nE 's/.*Absolute upper-left X: +(-?[0-9]+).*/\1/p' <<<"$info")" -ge 0 ] || continue
		[ "$(sed -nE 's/.*Width: +([0-9]+).*/\1/p' <<<"$info")" -gt 40 ] || continue
		echo "$w"
		return 0
	done
	return 1
}
no_menu() { ! menu_id >/dev/null; }
# drawn WINDOW: the window shows more than a flat background (GTK paints a moment after mapping).
drawn() { [ "$(import -window "$1" png:- 2>/dev/null | convert png:- -format %k info: 2>/dev/null || echo 0)" -gt 2 ]; }
icon_drawn() { local w; w=$(wintree | grep '("systray" "systray")' | head -1 | awk '{print $1}'); [ -n "$w" ] && drawn "$w"; }
menu_drawn() { local w; w=$(menu_id) && drawn "$w"; }
# click_icon: a click in the middle of the tray icon, wherever trayer put it.
click_icon() {
	local w h x y
	read -r w h x y <<<"$(icon_geom)"
	xdotool mousemove $((x + w / 2)) $((y + h / 2)) click 1
}

display_up() { xwininfo -root >/dev/null 2>&1; }
until_ok 5 "the virtual display $DISPLAY" display_up
trayer --edge top --align right --widthtype request --height "$panel" --SetDockType true --transparent false >/dev/null 2>&1 &
pids+=($!)
until_ok 10 "trayer's panel" panel_up

for state in ready busy session locked problem; do
	"$tmp/tray-demo" -state "$state" >"$tmp/demo-$state.log" 2>&1 &
	demo=$!
	pids+=($demo)
	until_ok 10 "a tray icon for state $state" icon_drawn || { cat "$tmp/demo-$state.log" >&2; exit 1; }
	import -window root "$tmp/root-$state.png"
	# Just the panel's end with the icon.
	convert "$tmp/root-$state.png" -crop "$((panel + 2))x${panel}+$((width - panel - 2))+0" +repage "$out/tray-$state.png"
	# Open the menu with a click on the icon.
	click_icon
	until_ok 10 "the tray menu in state $state" menu_drawn
	import -window root "$out/menu-$state.png"
	xdotool key Escape
	until_ok 10 "the tray menu to close" no_menu
	kill "$demo"
	wait "$demo" 2>/dev/null || true
	unset 'pids[${#pids[@]}-1]'
	until_ok 10 "the icon of state $state to go" no_icon
done

# The real daemon: it must show its icon and menu.
home=$(mktemp -d "$tmp/home.XXXX")
FOUREYES_HOME=$home bash .ci/with-keyring.sh "$tmp/foureyes" daemon >"$tmp/daemon.log" 2>&1 &
daemon=$!
pids+=($daemon)
if ! until_ok 20 "the real daemon's tray icon" icon_drawn; then
	echo "the real daemon showed no tray icon (log: $(tail -n 5 "$tmp/daemon.log" | tr '\n' ' '))" >&2
	exit 1
fi
import -window root "$out/daemon-root.png"
click_icon
until_ok 10 "the real daemon's tray menu" menu_drawn
import -window root "$out/daemon-menu.png"
xdotool key Escape
echo "real daemon photographed"
kill "$daemon" 2>/dev/null || true
wait "$daemon" 2>/dev/null || true
INNER

if ! CGO_ENABLED=1 go build -o "$tmp/foureyes" ./daemon/cmd/foureyes 2>"$tmp/build.log"; then
	echo "tray-screenshots: the daemon does not build:" >&2
	sed 's/^/  /' "$tmp/build.log" >&2
	exit 1
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
chromium=${FOUREYES_CHROMIUM:-/usr/bin/chromium}
if [ -x "$chromium" ]; then
	for page in enrol-1-form enrol-2-qr enrol-3-confirmed enrol-reenrol-warning accounts; do
		HOME=$tmp/chromium-home timeout 60 "$chromium" --headless --no-sandbox --disable-gpu \
			--disable-background-networking --disable-component-update --no-first-run --disable-sync \
			--disable-quic --user-data-dir="$(mktemp -d "$tmp/profile.XXXX")" --window-size=1000,1000 \
			--hide-scrollbars --screenshot="$out/page-$page.png" "file://$tmp/pages/$page.html" >/dev/null 2>&1
	done
	for page in enrol-1-form enrol-2-qr enrol-3-confirmed enrol-reenrol-warning accounts; do
		[ -s "$out/page-$page.png" ] || { echo "tray-screenshots: chromium made no screenshot of $page" >&2; exit 1; }
	done
	# The QR code must still scan after being drawn by a browser.
	if command -v zbarimg >/dev/null; then
		zbarimg --quiet --raw "$out/page-enrol-2-qr.png" 2>/dev/null | grep -q '^otpauth://totp/' ||
			{ echo "tray-screenshots: the QR code on the enrolment page does not scan" >&2; exit 1; }
	else
		skip "the QR code scan of the enrolment page" "zbarimg (apt-get install zbar-tools)" || exit 1
	fi
else
	skip "photographs of the local pages" "Chromium at $chromium (apt-get install chromium; FOUREYES_CHROMIUM names another)" || exit 1
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
