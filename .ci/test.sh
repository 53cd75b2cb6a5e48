#!/usr/bin/env bash
# Runs every test of foureyes: Go checks and tests (the real keyring in a private D-Bus session,
# -race), short fuzz runs, the extension's unit tests under node, the real extension in Chromium
# and Firefox ESR against the real daemon, and the tray screenshots. Screenshots and logs go to
# artifacts/. Exits non-zero if any step fails; the last line counts the steps.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
FUZZTIME=${FUZZTIME:-8s}

passed=0 failed=0 failures=()
step() {
  local name=$1; shift
  echo
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed+1)); echo "--- ok: $name ($((SECONDS-t0)) s)"
  else
    failed=$((failed+1)); failures+=("$name"); echo "--- FAILED: $name ($((SECONDS-t0)) s)"
  fi
}

gofmt_check() {
  local bad
  bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path '*/node_modules/*'))
  [ -z "$bad" ] || { echo "gofmt would change: $bad"; return 1; }
}

fuzz_all() {
  local rc=0 pkg target
  # Every Fuzz function in the module, briefly.
  while read -r file target; do
    pkg=./$(dirname "$file")
    echo "fuzz $pkg $target ($FUZZTIME)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" >artifacts/fuzz-"$target".log 2>&1 || { rc=1; tail -20 artifacts/fuzz-"$target".log; }
  done < <(grep -rHoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' daemon | sed -E 's/:func / /')
  return $rc
}

step "gofmt" gofmt_check
step "go vet" go vet ./daemon/... ./shared/...
step "go vet (headless build)" go vet -tags headless ./daemon/... ./shared/...
# FOUREYES_BROWSER_TESTS: the native host's chain through real Chromium and Firefox ESR (each
# test skips itself when its browser is not installed).
step "go test -race (real keyring)" bash .ci/with-keyring.sh env FOUREYES_KEYRING_TEST=1 FOUREYES_BROWSER_TESTS=1 go test -race -count=1 ./daemon/... ./shared/...
step "benchmarks (one iteration each)" go test -run '^$' -bench . -benchtime 1x ./daemon/... ./shared/...
step "fuzz" fuzz_all
webext_lint() {
  # Errors fail the step; the one warning (Firefox ignores background.service_worker, and uses
  # background.scripts from the same manifest) is expected.
  local out
  out=$(npm --prefix extension exec --no -- web-ext lint -s extension/unpacked --self-hosted --output json 2>&1) || true
  node -e 'const r = JSON.parse(process.argv[1]); console.log(`web-ext lint: ${r.summary.errors} errors, ${r.summary.warnings} warnings`); for (const m of r.errors) console.log(`  ${m.code}: ${m.message}`); process.exit(r.summary.errors ? 1 : 0)' "$out"
}

if [ -d extension/test/unit ]; then
  step "extension unit tests (node --test)" node --test extension/test/unit/
  step "extension type check (tsc --checkJs)" npm --prefix extension run --silent typecheck
  step "extension lint (web-ext, Firefox)" webext_lint
fi
if [ -f extension/scripts/e2e.sh ]; then
  step "browser end-to-end (Chromium, Firefox ESR)" bash extension/scripts/e2e.sh
fi
if [ -f daemon/scripts/tray-screenshots.sh ]; then
  step "tray under Xvfb (screenshots)" bash daemon/scripts/tray-screenshots.sh
fi

echo
if [ $failed -gt 0 ]; then
  printf 'failed step: %s\n' "${failures[@]}"
fi
echo "steps: $passed passed, $failed failed"
[ $failed -eq 0 ]
