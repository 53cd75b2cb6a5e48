// Reads `go test -json` on stdin and prints what a person wants from it: one line per package,
// the output of every failing test (and of a package that failed to build or panicked), the
// benchmark figures with --bench, and a count of passed, failed and skipped tests. Every
// skipped test is also appended, with its reason, to the file $FOUREYES_SKIPS names, which
// .ci/test.sh counts. Exits 1 when a test or package failed, or the stream was cut short.
//
//   go test -json ./... | tee artifacts/go-test.json | node .ci/gotest-report.mjs [--bench]

import { createInterface } from 'node:readline';
import { appendFileSync } from 'node:fs';

const bench = process.argv.includes('--bench');
const skipsFile = process.env.FOUREYES_SKIPS || '';
const out = new Map(); // "pkg\ttest" -> output lines
const counts = { pass: 0, fail: 0, skip: 0 };
const skipped = [];
const failedPkgs = [];
let events = 0;
let sawEnd = false;

const key = (e) => `${e.Package || e.ImportPath || ''}\t${e.Test || ''}`;
const short = (pkg) => pkg.replace(/^foureyes\//, '');
const secs = (e) => (typeof e.Elapsed === 'number' ? e.Elapsed.toFixed(2) : '?');
let benchmarks = 0;

/** reason is what a skipped test said, without go test's own "=== RUN" and "--- SKIP" lines. */
function reason(lines) {
  const said = lines.filter((l) => !/^\s*(=== (RUN|PAUSE|CONT|NAME)|--- SKIP)/.test(l)).map((l) => l.trim()).filter(Boolean);
  return said.join(' ').replace(/\s+/g, ' ').slice(0, 300) || '(no reason given)';
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  let e;
  try { e = JSON.parse(line); } catch { console.log(line); continue; } // not JSON: pass through
  events++;
  if (e.Action === 'build-output') { process.stdout.write(e.Output); continue; }
  if (e.Action === 'build-fail') { failedPkgs.push(e.ImportPath); continue; }
  const k = key(e);
  if (e.Action === 'output') {
    if (!out.has(k)) out.set(k, []);
    out.get(k).push(e.Output.replace(/\n$/, ''));
    // Benchmarks end with no pass event: their result is a line with ns/op, sometimes printed
    // apart from their name; b.Skip says "--- SKIP: BenchmarkX".
    if (bench && /\bns\/op\b/.test(e.Output)) {
      benchmarks++;
      console.log(`  ${short(e.Package)} ${e.Test || ''}: ${e.Output.trim().replace(/^Benchmark\S+\s+/, '').replace(/\s+/g, ' ')}`);
    }
    const bskip = bench && /^\s*--- SKIP: (Benchmark\S+)/.exec(e.Output);
    if (bskip) {
      counts.skip++;
      const s = `go: ${short(e.Package)} ${bskip[1]}: skipped`;
      skipped.push(s);
      if (skipsFile) appendFileSync(skipsFile, s + '\n');
    }
    continue;
  }
  if (!['pass', 'fail', 'skip'].includes(e.Action)) continue;
  if (e.Test) {
    counts[e.Action]++;
    if (e.Action === 'fail') {
      console.log(`--- FAIL: ${short(e.Package)} ${e.Test} (${secs(e)} s)`);
      for (const l of out.get(k) || []) console.log(`    ${l}`);
    }
    if (e.Action === 'skip') {
      const s = `go: ${short(e.Package)} ${e.Test}: ${reason(out.get(k) || [])}`;
      skipped.push(s);
      if (skipsFile) appendFileSync(skipsFile, s + '\n');
    }
    if (e.Action !== 'fail') out.delete(k);
    continue;
  }
  // A package's end.
  const pkgOut = out.get(k) || [];
  if (e.Action === 'fail') {
    failedPkgs.push(e.Package);
    console.log(`FAIL  ${short(e.Package)} (${secs(e)} s)`);
    // What no test owns: a panic, a timeout, TestMain's own words.
    for (const l of pkgOut) if (!/^(FAIL|ok|PASS)\b/.test(l) && !/^\s*--- FAIL/.test(l)) console.log(`    ${l}`);
  } else if (e.Action === 'skip') {
    if (!bench) console.log(`-     ${short(e.Package)} (no tests)`);
  } else {
    if (!bench) console.log(`ok    ${short(e.Package)} (${secs(e)} s)`);
  }
  out.delete(k);
  sawEnd = true;
}

if (skipped.length) {
  console.log(`skipped tests:`);
  for (const s of skipped) console.log(`  ${s}`);
}
const broken = failedPkgs.length && !counts.fail ? `, ${failedPkgs.length} package(s) failed` : '';
if (bench) console.log(`go test -bench: ${benchmarks} benchmarks ran, ${counts.skip} skipped, ${failedPkgs.length} package(s) failed`);
else console.log(`go test: ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped${broken}`);
if (!events || !sawEnd) console.log('go test: no results (did go test start?)');
process.exit(counts.fail || failedPkgs.length || !events || !sawEnd ? 1 : 0);
