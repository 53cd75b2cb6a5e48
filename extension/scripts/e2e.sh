#!/usr/bin/env bash
# Browser end-to-end tests of the extension: Chromium (playwright-core) against the fixture
# sites, with the protocol stand-in and, when it builds, the real foureyes daemon; then Firefox
# ESR (puppeteer-core over WebDriver BiDi) when firefox-esr is there: the block scenario, and
# approve-once, custody (sign-in, one post, sign-out; on Mastodon too; Lock now, expiry, Firefox
# closed mid-session), rotation and private accounts against the real daemon. Last, a set of the
# Chromium scenarios against `foureyes service` (service mode: the service, the browser and the
# approvers as different OS users; extension/test/e2e/service-scenarios.mjs names them).
#
#   bash extension/scripts/e2e.sh            # everything
#   E2E_ONLY=substring bash extension/scripts/e2e.sh
#   E2E_SERVICE=1 bash extension/scripts/e2e.sh   # only the service-mode scenarios
#   E2E_SERVICE=0 bash extension/scripts/e2e.sh   # everything but them
#
# Installs nothing (CI runs `npm ci` first). Screenshots go to artifacts/. Exits non-zero on any
# failure; the last lines are "N skipped" and "N passed, N failed".
#
# Something missing (the daemon does not build, no Firefox, no oathtool): the scenarios that need
# it are skipped, each named on a SKIP line (and in $FOUREYES_SKIPS when .ci/test.sh runs this);
# with CI=true each is a failure instead. FOUREYES_CHROMIUM and FOUREYES_FIREFOX name the browsers
# (default /usr/bin/chromium, /usr/bin/firefox-esr).
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

passed=0
failed=0
skipped=0
is_ci() { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; }
# missing WHAT HINT SCENARIOS: a prerequisite is not there. Fails under CI=true, else a skip.
missing() {
	if is_ci; then
		echo "FAIL $3: $1 is missing ($2); with CI=true a missing prerequisite fails the run"
		failed=$((failed + 1))
	else
		echo "SKIP $3: $1 is missing ($2)"
		skipped=$((skipped + 1))
		[ -z "${FOUREYES_SKIPS:-}" ] || echo "e2e: $3: $1 is missing ($2)" >>"$FOUREYES_SKIPS"
	fi
}
export FOUREYES_CHROMIUM=${FOUREYES_CHROMIUM:-/usr/bin/chromium}
export FOUREYES_FIREFOX=${FOUREYES_FIREFOX:-/usr/bin/firefox-esr}

only=()
[ -n "${E2E_ONLY:-}" ] && only=(--only "$E2E_ONLY")

# The real daemon; when it does not build, run.mjs and firefox.mjs report the real-daemon
# scenarios as skipped (or, with CI=true, failed).
if ! command -v go >/dev/null; then
	echo "e2e: go not found: the real-daemon scenarios cannot run (Go 1.26: https://go.dev/dl/)" >&2
elif go build -o "$tmp/foureyes" ./daemon/cmd/foureyes 2>"$tmp/build.log"; then
	export FOUREYES_BIN="$tmp/foureyes"
	echo "e2e: built $FOUREYES_BIN"
else
	echo "e2e: foureyes did not build:" >&2
	sed 's/^/  /' "$tmp/build.log" >&2 2>/dev/null || true
fi

tally() { # reads a log, adds its "N skipped" and "N passed, N failed" lines and its SKIP lines
	local line
	grep -E '^SKIP ' "$1" | sed 's/^SKIP /e2e: /' >>"${FOUREYES_SKIPS:-/dev/null}"
	line=$(grep -E '^[0-9]+ skipped$' "$1" | tail -1)
	[ -z "$line" ] || skipped=$((skipped + $(echo "$line" | cut -d' ' -f1)))
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -1)
	if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
	passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
	failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
}

service=${E2E_SERVICE:-}
# Chromium. The daemon needs an OS keyring: give the whole run a private one.
if [ "$service" = 1 ]; then
	: # only the service-mode scenarios, below
elif [ ! -x "$FOUREYES_CHROMIUM" ]; then
	missing "Chromium at $FOUREYES_CHROMIUM (FOUREYES_CHROMIUM)" "apt-get install chromium" "every Chromium scenario"
else
	chromium_cmd=(node extension/test/e2e/run.mjs "${only[@]}")
	if [ -n "${FOUREYES_BIN:-}" ] && [ -f .ci/with-keyring.sh ]; then
		chromium_cmd=(bash .ci/with-keyring.sh "${chromium_cmd[@]}")
	fi
	"${chromium_cmd[@]}" 2>&1 | grep --line-buffered -vE '^dbus-daemon\[' | tee "$tmp/chromium.log"
	tally "$tmp/chromium.log"
fi

# Firefox ESR. The real daemon needs a keyring here too.
if [ -n "${E2E_ONLY:-}" ] || [ "$service" = 1 ]; then
	: # a subset of the Chromium scenarios was asked for
elif [ ! -x "$FOUREYES_FIREFOX" ]; then
	missing "Firefox ESR at $FOUREYES_FIREFOX (FOUREYES_FIREFOX)" "apt-get install firefox-esr" "every Firefox scenario"
else
	firefox_cmd=(node extension/test/e2e/firefox.mjs)
	if [ -n "${FOUREYES_BIN:-}" ] && [ -f .ci/with-keyring.sh ]; then
		firefox_cmd=(bash .ci/with-keyring.sh "${firefox_cmd[@]}")
	fi
	"${firefox_cmd[@]}" 2>&1 | grep --line-buffered -vE '^dbus-daemon\[' | tee "$tmp/firefox.log"
	tally "$tmp/firefox.log"
fi

# Service mode, after the user-mode runs: no keyring (the service keeps its secrets in its
# sealed store); run.mjs makes the OS users (the service's, the staff member's who runs Chromium,
# the approvers') and says what is missing (root, setpriv, oathtool).
if [ "$service" = 0 ]; then
	:
elif [ ! -x "$FOUREYES_CHROMIUM" ]; then
	missing "Chromium at $FOUREYES_CHROMIUM (FOUREYES_CHROMIUM)" "apt-get install chromium" "every service-mode scenario"
else
	t0=$SECONDS
	# Chromium as a staff member's own OS user, not root (lib/chromium-as.sh).
	FOUREYES_BROWSER_USER=${FOUREYES_BROWSER_USER:-foureyes-e2e-staff} FOUREYES_CHROMIUM_AS=$FOUREYES_CHROMIUM \
		FOUREYES_CHROMIUM=$root/extension/test/e2e/lib/chromium-as.sh \
		node extension/test/e2e/run.mjs --daemon service "${only[@]}" 2>&1 | tee "$tmp/service.log"
	tally "$tmp/service.log"
	echo "e2e: service mode took $((SECONDS - t0)) s"
fi

echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
