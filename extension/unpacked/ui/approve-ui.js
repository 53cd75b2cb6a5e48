// Approval page: shows the held post exactly, lets the staff member pick the account and the
// approver, and takes the approver's code. The code is typed only here, in the extension's own
// page, never in the platform's page.

import { explain } from '../lib/explain.js';

const $ = (id) => document.getElementById(id);
const tab = Number(new URLSearchParams(location.search).get('tab'));
const ACTION_WORDS = { post: 'New post', reply: 'Reply', quote: 'Quote post', repost: 'Repost' };

function send(msg) {
  return chrome.runtime.sendMessage({ ...msg, tab });
}

function say(text, kind) {
  const m = $('msg');
  m.textContent = text;
  m.className = `msg ${kind || ''}`;
}

function fill(select, items, label) {
  select.replaceChildren();
  for (const it of items) {
    const o = document.createElement('option');
    o.value = it.id;
    o.textContent = label(it);
    select.append(o);
  }
}

async function init() {
  if (!Number.isInteger(tab)) { say('No post to approve here.', 'err'); return; }
  const r = await send({ type: 'ui:draft' });
  if (!r || !r.ok) { say('There is no held post for this tab any more. Press Post on the platform page again.', 'err'); return; }
  const d = r.draft;
  $('platform').textContent = `${d.platformName} (${d.host})`;
  $('action').textContent = ACTION_WORDS[d.action] || d.action;
  $('text').textContent = d.text;
  $('main').hidden = false;
  const l = await send({ type: 'ui:lists' });
  if (!l || !l.ok) { say(explain(l && l.error || { code: 'daemon_unavailable' }), 'err'); $('approve').disabled = true; return; }
  if (!l.accounts.length) { say(`No ${d.platformName} account is in foureyes' custody. Ask IT to add it (foureyes account add).`, 'err'); $('approve').disabled = true; }
  if (!l.approvers.length) { say('No approver is enrolled yet. Ask IT to enrol the press officers (foureyes approver enroll).', 'err'); $('approve').disabled = true; }
  fill($('account'), l.accounts, (a) => `${a.handle} (${a.platform})`);
  fill($('approver'), l.approvers, (a) => a.name || a.id);
  $('code').focus();
}

$('form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const code = $('code').value.trim();
  if (!/^[0-9]{6}$/.test(code)) { say('Enter the 6 digits shown on the approver\'s phone.', 'err'); return; }
  $('approve').disabled = true;
  say('Checking the code…');
  try {
    const r = await send({ type: 'ui:approve', account: $('account').value, approver: $('approver').value, code });
    if (!r) { say(explain({ code: 'daemon_unavailable' }), 'err'); return; }
    if (!r.ok) { say(explain(r.error || {}), 'err'); return; }
    $('code').value = '';
    if (!r.done) { say(`Approved by one press officer. ${r.needed - r.have} more approval needed at this hour: pick the second approver and enter their code.`, 'ok'); return; }
    const name = $('approver').selectedOptions[0] ? $('approver').selectedOptions[0].textContent : 'the press officer';
    say(`Approved by ${name}. Go back to the post and press Post again: this exact text can be published once.`, 'ok');
    document.body.dataset.state = 'approved';
    $('form').hidden = true;
  } finally {
    $('approve').disabled = false;
  }
});

$('cancel').addEventListener('click', async () => {
  await send({ type: 'ui:cancel' });
  say('Request cancelled. Nothing was published.', 'ok');
  $('main').hidden = true;
});

init();
