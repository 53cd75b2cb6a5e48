// What the page gate costs a busy platform page: the same long workload (thousands of DOM
// mutations, clicks and key presses bubbling through the page) timed in Chromium with and
// without the extension, in one run. Prints the figures and the ratio.
//
//   node extension/test/e2e/bench-content.mjs [--rounds 7] [--nodes 5000]

import { makeCert } from './lib/certs.mjs';
import { startServer } from './lib/server.mjs';
import { launch, tempDirs, HOSTS } from './lib/browser.mjs';
import { rmSync } from 'node:fs';

const argv = process.argv.slice(2);
const arg = (k, d) => (argv.includes(k) ? Number(argv[argv.indexOf(k) + 1]) : d);
const ROUNDS = arg('--rounds', 7);
const NODES = arg('--nodes', 5000);

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>bench</title></head><body>
<div id="react-root"><div data-testid="primaryColumn"><div id="timeline"></div>
<div data-testid="tweetTextarea_0" contenteditable="true"></div><button data-testid="tweetButtonInline">Post</button></div></div>
<script>
let clicks = 0;
document.getElementById('react-root').addEventListener('click', () => { clicks++; });
window.__work = (n) => {
  const tl = document.getElementById('timeline');
  tl.textContent = '';
  clicks = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const art = document.createElement('article');
    art.setAttribute('data-testid', 'tweet');
    art.innerHTML = '<div><span>post ' + i + '</span><button data-testid="like">like</button></div>';
    tl.prepend(art);
    if (i % 3 === 0) art.querySelector('span').textContent = 'edited ' + i;
    if (i > 0 && i % 5 === 0) tl.lastChild.remove();
    art.querySelector('button').dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, composed: true }));
    art.dispatchEvent(new KeyboardEvent('keydown', { key: i % 7 ? 'j' : 'Enter', bubbles: true, cancelable: true }));
  }
  void document.body.offsetHeight; // include the layout the mutations caused
  return { ms: performance.now() - t0, clicks };
};
</script></body></html>`;

const dirsCert = tempDirs('foureyes-bench-cert-');
const { key, cert } = makeCert(dirsCert.base, HOSTS);
const server = await startServer({ port: 0, key, cert });
server.extraPages.set('x.com/bench', PAGE);

async function measure(withExtension) {
  const dirs = tempDirs('foureyes-bench-');
  const { context } = await launch({ ...dirs, serverPort: server.port, withExtension });
  const page = await context.newPage();
  await page.goto('https://x.com/bench');
  if (withExtension) await page.waitForSelector('html[data-foureyes=on]');
  await page.evaluate((n) => window.__work(n), Math.min(500, NODES)); // warm-up
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async (name) => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === name).value;
  const script0 = await metric('ScriptDuration');
  const times = [];
  for (let r = 0; r < ROUNDS; r++) {
    const res = await page.evaluate((n) => window.__work(n), NODES);
    if (res.clicks < NODES) throw new Error('page handlers did not see the clicks');
    times.push(res.ms);
  }
  const scriptS = (await metric('ScriptDuration')) - script0;
  await context.close();
  rmSync(dirs.base, { recursive: true, force: true });
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1], scriptS };
}

const without = await measure(false);
const withExt = await measure(true);
await server.close();
rmSync(dirsCert.base, { recursive: true, force: true });

const f = (x) => x.toFixed(1);
console.log(`workload: ${NODES} inserted posts per round (plus edits, removals, ${NODES} clicks, ${NODES} key presses), ${ROUNDS} rounds`);
console.log(`without extension: median ${f(without.median)} ms (min ${f(without.min)}, max ${f(without.max)}), page script time (CDP ScriptDuration, all rounds) ${f(without.scriptS * 1000)} ms`);
console.log(`with extension:    median ${f(withExt.median)} ms (min ${f(withExt.min)}, max ${f(withExt.max)}), page script time (CDP ScriptDuration, all rounds) ${f(withExt.scriptS * 1000)} ms`);
console.log(`ratio (median with / without): ${(withExt.median / without.median).toFixed(3)}`);
