#!/usr/bin/env bash
# Browser end-to-end tests of the extension: Chromium (playwright-core) against the fixture
# sites, with the protocol stand-in and, when it builds, the real foureyes daemon; then Firefox
# ESR (puppeteer-core over WebDriver BiDi) when firefox-esr is there: the block scenario, and
# approve-once against the real daemon.
#
#   bash extension/scripts/e2e.sh            # everything
#   E2E_ONLY=substring bash extension/scripts/e2e.sh
#
# Installs nothing (CI runs `npm ci` first). Screenshots go to artifacts/. Exits non-zero on any
# failure; the last line is "N passed, N failed".
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mkdir -p artifacts
export ARTIFACTS="$root/artifacts"

if [ ! -d extension/node_modules/playwright-core ]; then
	echo "e2e: node_modules missing: run npm ci in extension/ first" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

only=()
[ -n "${E2E_ONLY:-}" ] && only=(--only "$E2E_ONLY")

# The real daemon, when it builds; without it the flow scenarios run against the stand-in only.
if command -v go >/dev/null && go build -o "$tmp/foureyes" ./daemon/cmd/foureyes 2>"$tmp/build.log"; then
	export FOUREYES_BIN="$tmp/foureyes"
	echo "e2e: built $FOUREYES_BIN"
else
	echo "e2e: foureyes did not build; real-daemon scenarios are skipped" >&2
	sed 's/^/  /' "$tmp/build.log" >&2 2>/dev/null || true
fi

passed=0
failed=0
tally() { # reads a log, adds its "N passed, N failed" line
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -1)
	if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
	passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
	failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
}

# Chromium. The daemon needs an OS keyring: give the whole run a private one.
chromium_cmd=(node extension/test/e2e/run.mjs "${only[@]}")
if [ -n "${FOUREYES_BIN:-}" ] && [ -f .ci/with-keyring.sh ]; then
	chromium_cmd=(bash .ci/with-keyring.sh "${chromium_cmd[@]}")
fi
"${chromium_cmd[@]}" 2>&1 | grep --line-buffered -vE '^dbus-daemon\[' | tee "$tmp/chromium.log"
tally "$tmp/chromium.log"

# Firefox ESR. The real daemon needs a keyring here too.
if [ -x /usr/bin/firefox-esr ] && [ -z "${E2E_ONLY:-}" ]; then
	firefox_cmd=(node extension/test/e2e/firefox.mjs)
	if [ -n "${FOUREYES_BIN:-}" ] && [ -f .ci/with-keyring.sh ]; then
		firefox_cmd=(bash .ci/with-keyring.sh "${firefox_cmd[@]}")
	fi
	"${firefox_cmd[@]}" 2>&1 | grep --line-buffered -vE '^dbus-daemon\[' | tee "$tmp/firefox.log"
	tally "$tmp/firefox.log"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
