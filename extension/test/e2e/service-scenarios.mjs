// Service mode in the browser: which of run.mjs's flow scenarios run unchanged against
// `foureyes service` (lib/service.mjs), and the scenarios that exist only there, where the OS
// users matter: an approver approving from their own OS account over the service's socket, and an
// approver mapped to the browser's own OS user (self-approval).
//
// run.mjs --daemon service runs exactly these; extension/scripts/e2e.sh does after the user-mode
// runs, with Chromium as a staff member's OS user. The set covers the flow in about two minutes:
// approve and publish once on X and Mastodon (the spent session refusing a second post), an
// approved image, a wrong code, an edit after approval, Lock now, expiry, the service restarted,
// the bridge closed to web pages, the service worker stopped at each step, and custody's sign-in
// and sign-out on X and Mastodon (also under Lock now, and with the browser closed).

import assert from 'node:assert/strict';
import { APPROVER_USER, SECOND_APPROVER_USER, BROWSER_USER } from './lib/service.mjs';
import { postingHours } from './lib/hours.mjs';
import { ACCOUNTS } from './lib/server.mjs';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** filesUnder lists every file below dir. */
const filesUnder = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));

/** SERVICE_SCENARIOS are run.mjs's flow scenarios that also run against the service, by name. */
export const SERVICE_SCENARIOS = [
  'x: approve with a code -> exactly one request with the approved text; a second post is blocked',
  'mastodon: approve with a code -> exactly one request with the approved text; a second post is blocked',
  'x: the approved image goes out once, and the server saw exactly its bytes',
  'x: text edited after approval -> blocked, reported as digest_mismatch',
  'x: "Lock now" after approval -> blocked',
  'x: session expired -> blocked',
  'daemon stopped then restarted -> the extension reconnects and the flow works',
  'a web page cannot open the daemon WebSocket',
  'service worker stopped at every step of approve-and-publish -> gate closed, no allow rule left, one publish',
  'x: custody: signed in from the keyring inside the session only, one post, then signed out on the server',
  'mastodon: custody: signed in from the keyring inside the session only, one post, then signed out on the server',
  'x: custody: "Lock now" while signed in -> signed out on the server, nothing published',
  'x: custody: browser closed while signed in -> signed out on the server at the next start',
];

/**
 * serviceScenarios adds the service-only scenarios through serviceFlow(name, driverOptions, fn),
 * with run.mjs's fixture server and helpers.
 */
export function serviceScenarios(h) {
  const { serviceFlow, server, withBrowser, openPlatform, typePost, pressPost, noticeReason, waitReason, clickRequestApproval, received, connected, published, shot } = h;

  /** openWindow presses "Request approval" and returns the approval window once it lists its approvers. */
  async function openWindow(context, page) {
    const popup = context.waitForEvent('page', { predicate: (p) => p.url().includes('/ui/approve.html'), timeout: 10000 });
    popup.catch(() => {});
    await clickRequestApproval(page);
    const ui = await popup;
    await ui.waitForSelector('#main:not([hidden])');
    await ui.waitForFunction(() => document.querySelectorAll('#approver option').length > 0 || document.getElementById('msg').textContent !== '', null, { timeout: 10000 });
    await ui.selectOption('#account', 'x:@ministry');
    return ui;
  }
  /** tryCode submits a code in the approval window and returns the window's answer: [class, text]. */
  async function tryCode(ui, code) {
    await ui.fill('#code', code);
    await ui.click('#approve');
    await ui.waitForSelector('#msg.ok, #msg.err', { timeout: 10000 });
    return [await ui.$eval('#msg', (m) => (m.classList.contains('ok') ? 'ok' : 'err')), await ui.textContent('#msg')];
  }
  const offered = (ui) => ui.$$eval('#approver option', (os) => os.map((o) => o.value).sort());
  /** pendingRequest finds the one pending request for text, as `user` lists them over the socket. */
  function pendingRequest(driver, user, text) {
    const r = driver.asUser(user, ['requests', '--json']);
    assert.equal(r.status, 0, `foureyes requests as ${user}: ${r.stdout}${r.stderr}`);
    const mine = (JSON.parse(r.stdout) || []).filter((q) => q.state === 'pending' && q.text === text);
    assert.equal(mine.length, 1, r.stdout);
    return mine[0];
  }

  serviceFlow('x: outside posting hours (two approvers): one approves from their own OS account with `foureyes approve` over the service socket, the other in the browser -> one post; the trail names requester and approvers as three OS users',
    { approvers: [{ id: 'anna', name: 'Anna Press', osUser: APPROVER_USER }, { id: 'ben', name: 'Ben Desk', osUser: SECOND_APPROVER_USER }] },
    async (driver) => {
      driver.policy = { posting_hours: postingHours(false) };
      return withBrowser(driver, async ({ context }) => {
        const page = await openPlatform(context, 'x');
        await connected(driver);
        server.reset();
        const text = 'Late statement, approved by two press officers';
        await typePost(page, 'x', text);
        await pressPost(page, 'x');
        assert.equal(await noticeReason(page), 'approval_needed');
        const ui = await openWindow(context, page);
        assert.deepEqual(await offered(ui), ['anna', 'ben']);
        await ui.selectOption('#approver', 'ben');
        // A wrong code: the request is made at the service and stays pending.
        const [cls] = await tryCode(ui, '000000');
        assert.equal(cls, 'err');
        const req = pendingRequest(driver, APPROVER_USER, text);
        assert.equal(req.requester, BROWSER_USER, 'the service names the browser\'s OS user as the requester');
        assert.equal(req.account, 'x:@ministry');
        // Anna, at her own OS account, approves over the service's socket.
        const r = driver.asUser(APPROVER_USER, ['approve', req.id, '--approver', 'anna', '--json'], `${await driver.code('anna')}\n`);
        assert.equal(r.status, 0, `foureyes approve as ${APPROVER_USER}: ${r.stdout}${r.stderr}`);
        const first = JSON.parse(r.stdout);
        assert.deepEqual(first.request.approved_by, ['anna']);
        assert.ok(!first.session, 'one approval of two issued a session');
        // Nothing goes out on one approval.
        await ui.close();
        await pressPost(page, 'x');
        assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');
        assert.ok(await received(page, 0), JSON.stringify(server.received));
        // Ben gives his code in the staff member's browser: the second approval.
        const ui2 = await openWindow(context, page);
        await ui2.selectOption('#approver', 'ben');
        const [cls2, msg2] = await tryCode(ui2, await driver.code('ben'));
        assert.equal(cls2, 'ok', msg2);
        assert.match(msg2, /^Approved by Ben Desk\./, 'the second approval completes the request');
        await ui2.close();
        assert.ok(['approved', 'signed_in'].includes(await waitReason(page, ['approved', 'signed_in'])));
        await pressPost(page, 'x');
        assert.ok(await received(page, 1), JSON.stringify(server.received));
        assert.equal(server.received[0].text, text);
        const pub = await published(driver);
        assert.equal(pub.length, 1, JSON.stringify(pub));
        await pressPost(page, 'x');
        assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed', 'the session is spent');
        assert.ok(await received(page, 1));
        // The trail: the request by the browser's user, each approval by the OS user who gave it.
        const trail = await driver.audit();
        const made = trail.filter((e) => e.event === 'request' && e.fields.request_id === req.id);
        assert.deepEqual(made.map((e) => [e.user, e.fields.requester]), [[BROWSER_USER, BROWSER_USER]], JSON.stringify(made));
        const approvals = trail.filter((e) => e.event === 'approval' && e.fields.request_id === req.id);
        assert.deepEqual(approvals.map((e) => [e.fields.approver, e.user, e.fields.requester]), [['anna', APPROVER_USER, BROWSER_USER], ['ben', BROWSER_USER, BROWSER_USER]], JSON.stringify(approvals));
        const issued = trail.filter((e) => e.event === 'session_issued' && e.fields.request_id === req.id);
        assert.equal(issued.length, 1);
        assert.deepEqual(issued[0].fields.approved_by.split(',').sort(), ['anna', 'ben']);
        assert.equal(pub[0].session, issued[0].fields.session_id);
        // What the service holds: the passwords and the approvers' seeds only sealed in its own
        // folder, in none of its files or its output in the clear; the staff member cannot even
        // list the folder.
        const secrets = [ACCOUNTS.x.password, ACCOUNTS.mastodon.password, ACCOUNTS.bluesky.password, driver.seed('anna'), driver.seed('ben')];
        const files = filesUnder(driver.paths.state);
        assert.ok(files.filter((f) => f.includes('/secrets/')).length >= secrets.length, files.join(', '));
        for (const f of files) assert.ok(!secrets.some((x) => readFileSync(f, 'latin1').includes(x)), `a secret in the clear in ${f}`);
        assert.ok(!secrets.some((x) => driver.output.join('').includes(x)), 'a secret in the service\'s output');
        const ls = driver.asUser(BROWSER_USER, [], '', ['ls', driver.paths.state]);
        assert.notEqual(ls.status, 0, `${BROWSER_USER} listed the service's state folder: ${ls.stdout}`);
        assert.match(ls.stderr, /Permission denied/);
      });
    });

  serviceFlow('x: an approver mapped to the browser\'s own OS user is not offered, and is refused as self-approval from the window and from their own terminal; nothing published',
    // Ben first: IT enrols Anna with Ben vouching (Anna, the browser's user, cannot vouch for a change made as that user).
    { approvers: [{ id: 'ben', name: 'Ben Desk', osUser: APPROVER_USER }, { id: 'anna', name: 'Anna Press', osUser: BROWSER_USER }] },
    (driver) => withBrowser(driver, async ({ context }) => {
      const page = await openPlatform(context, 'x');
      await connected(driver);
      server.reset();
      const text = 'My own post, approved by me';
      await typePost(page, 'x', text);
      await pressPost(page, 'x');
      assert.equal(await noticeReason(page), 'approval_needed');
      const ui = await openWindow(context, page);
      assert.deepEqual(await offered(ui), ['ben'], 'the approver who is the requester is offered');
      // The staff member adds herself to the list (as with the browser's developer tools) and
      // gives her own code: the service refuses it.
      await ui.evaluate(() => { const o = document.createElement('option'); o.value = 'anna'; o.textContent = 'Anna Press'; document.getElementById('approver').append(o); });
      await ui.selectOption('#approver', 'anna');
      const [cls, msg] = await tryCode(ui, await driver.code('anna'));
      assert.equal(cls, 'err', msg);
      assert.match(msg, /cannot approve your own post/);
      await shot(ui, 'service-self-approval-refused');
      await ui.close();
      // The same from her terminal, over the service's socket, as the same OS user.
      const req = pendingRequest(driver, BROWSER_USER, text);
      assert.equal(req.requester, BROWSER_USER);
      const r = driver.asUser(BROWSER_USER, ['approve', req.id, '--approver', 'anna', '--json'], `${await driver.code('anna')}\n`);
      assert.notEqual(r.status, 0, r.stdout);
      assert.equal(JSON.parse(r.stdout).error.code, 'self_approval', r.stdout);
      // Nothing goes out.
      await pressPost(page, 'x');
      assert.equal(await waitReason(page, 'approval_needed'), 'approval_needed');
      await page.evaluate(() => window.__publishDirect('straight from the page'));
      assert.ok(await received(page, 0), JSON.stringify(server.received));
      assert.deepEqual(await driver.published(), []);
      // Both attempts are high alarms naming approver and requester; no session was issued.
      const trail = await driver.audit();
      const refused = trail.filter((e) => e.event === 'approval_refused' && e.fields.request_id === req.id);
      assert.deepEqual(refused.map((e) => [e.severity, e.fields.reason, e.fields.approver, e.fields.requester]),
        [['high', 'self_approval', 'anna', BROWSER_USER], ['high', 'self_approval', 'anna', BROWSER_USER]], JSON.stringify(refused));
      assert.deepEqual(trail.filter((e) => e.event === 'session_issued'), []);
      // Still pending: another person can approve it.
      assert.equal(pendingRequest(driver, APPROVER_USER, text).id, req.id);
    }));
}
