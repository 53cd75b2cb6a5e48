#!/usr/bin/env bash
# Runs the benchmarks and prints their figures (see daemon/docs/benchmarks.md for what each measures).
# Figures depend on the machine: compare runs on the same one.
set -uo pipefail
cd "$(dirname "$0")/../.."
mkdir -p artifacts
failed=()
run() {
  local name=$1; shift
  echo; echo "=== $name"
  "$@" 2>&1 | tee -a artifacts/bench.txt || failed+=("$name")
}
: > artifacts/bench.txt

run "approve round trip over the admin socket (request + approve, real audit log with fsync)" \
  go test -run '^$' -bench 'ApproveRoundTrip' -benchtime 300x ./daemon/internal/adminsock/
run "audit append with fsync" go test -run '^$' -bench 'Append' -benchtime 2000x ./daemon/internal/audit/
run "keep_media: a 10 MB file received in 32 KiB chunks, hashed, written, fsynced, renamed" go test -run '^$' -bench 'Store10MB' -benchtime 10x ./daemon/internal/mediastore/
[ -f daemon/scripts/bench-audit.sh ] && run "audit verify of 1,000,000 lines vs sha256sum" bash daemon/scripts/bench-audit.sh
ls daemon/internal/bridge/*_test.go >/dev/null 2>&1 && \
  run "bridge status round trip over loopback WebSocket" go test -run '^$' -bench 'StatusRoundTrip' -benchtime 5000x ./daemon/internal/bridge/
[ -f extension/test/e2e/bench-content.mjs ] && run "content script cost on a busy page" node extension/test/e2e/bench-content.mjs
[ -f daemon/scripts/bench-idle.sh ] && run "idle cost of the daemon with tray vs KeePassXC" bash daemon/scripts/bench-idle.sh
echo; echo "figures saved in artifacts/bench.txt"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'benchmark failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
