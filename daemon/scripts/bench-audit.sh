#!/usr/bin/env bash
# Times verification of a realistic 1,000,000-line audit log against plain sha256sum of the same
# file, in one run on one machine, so the figures compare fairly.
#
#   bash daemon/scripts/bench-audit.sh               # from the repository root
#   AUDIT_BENCH_LINES=200000 AUDIT_BENCH_RUNS=5 bash daemon/scripts/bench-audit.sh
#
# The log is written once by the audit package's own encoder (TestGenerateLog), then each tool
# runs AUDIT_BENCH_RUNS times on the warm file and the best run counts: on a shared machine the
# best run is the one least disturbed by others. CPU time (user+sys) is shown as well, since it
# is what the work costs whatever else the machine is doing.
set -euo pipefail
cd "$(dirname "$0")/../.."

lines=${AUDIT_BENCH_LINES:-1000000}
runs=${AUDIT_BENCH_RUNS:-3}
command -v sha256sum >/dev/null || { echo "bench-audit: sha256sum not found" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/audit.jsonl

echo "building the audit test binary..."
go test -tags benchtools -c -o "$work/audit.test" ./daemon/internal/audit
FOUREYES_AUDIT_GENLOG=$log FOUREYES_AUDIT_GENLOG_LINES=$lines \
  "$work/audit.test" -test.run '^TestGenerateLog$' | grep '^wrote'
bytes=$(wc -c <"$log" | tr -d ' ')
cat "$log" >/dev/null # warm the page cache, so both tools read from memory

# best CMD...: runs CMD $runs times; sets best_wall and best_cpu (seconds) of the fastest run.
best() {
  local i t wall cpu
  best_wall='' best_cpu=''
  for ((i = 0; i < runs; i++)); do
    t=$( { TIMEFORMAT='%3R %3U %3S'; time "$@" >"$work/out" 2>&1; } 2>&1 ) || {
      echo "bench-audit: $* failed:" >&2; cat "$work/out" >&2; exit 1; }
    wall=$(awk '{print $1}' <<<"$t")
    cpu=$(awk '{print $2 + $3}' <<<"$t")
    if [[ -z $best_wall ]] || awk -v a="$wall" -v b="$best_wall" 'BEGIN{exit !(a < b)}'; then
      best_wall=$wall best_cpu=$cpu
      cp "$work/out" "$work/best"
    fi
  done
}

report() { # name wall cpu
  awk -v n="$1" -v w="$2" -v c="$3" -v b="$bytes" 'BEGIN{
    printf "%-28s %8.0f ms wall %8.0f ms cpu %8.0f MB/s\n", n, w*1000, c*1000, b/w/1e6 }'
}

verify() { FOUREYES_AUDIT_VERIFY=$log "$work/audit.test" -test.run '^TestVerifyLogFile$'; }

best verify
v_wall=$best_wall v_cpu=$best_cpu
inproc=$(grep '^verified' "$work/best" || true)
best sha256sum "$log"
s_wall=$best_wall s_cpu=$best_cpu

echo
echo "log: $lines lines, $bytes bytes; best of $runs runs each"
report "audit verify (Go)" "$v_wall" "$v_cpu"
report "sha256sum" "$s_wall" "$s_cpu"
awk -v vw="$v_wall" -v sw="$s_wall" -v vc="$v_cpu" -v sc="$s_cpu" 'BEGIN{
  printf "ratio verify/sha256sum: %.2fx wall, %.2fx cpu\n", vw/sw, vc/sc }'
echo "best verify run, timed in process: ${inproc#verified }"
