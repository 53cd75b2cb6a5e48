// Approval page: shows the held post exactly, lets the staff member pick the account and the
// approver, and takes the approver's code. The code is typed only here, in the extension's own
// page, never in the platform's page.

import { explain } from '../lib/explain.js';
import { extractLinks } from '../lib/post.js';

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

const el = (tag, props = {}, ...kids) => { const e = document.createElement(tag); Object.assign(e, props); e.append(...kids); return e; };
const TARGET_WORDS = { reply: 'In reply to', quote: 'Quoting', repost: 'Reposting' };
const FLAG_WORDS = {
  punycode: 'Written in the xn-- (punycode) form: the letters shown may not be the ones they seem.',
  mixed_script: 'Mixes letters of different alphabets (for example Cyrillic in a Latin name): a look-alike address.',
  lookalike: 'Made of Cyrillic or Greek letters that look like Latin ones: a look-alike address.',
};

function sizeWords(n) {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} kB`;
  return `${n} bytes`;
}

/** showPost fills in what is approved besides the text: target, links, attachments. */
function showPost(d) {
  const t = d.target;
  if (t) {
    $('target-h').textContent = TARGET_WORDS[d.action] || 'Refers to';
    $('target-author').textContent = t.author || '(author not shown on the page)';
    $('target-excerpt').textContent = t.excerpt ? (t.excerpt.length >= 280 ? `${t.excerpt}…` : t.excerpt) : '(no text)';
    $('target-url').textContent = t.url;
    $('target-box').hidden = false;
  } else if (d.action === 'reply' || d.action === 'quote') {
    $('target-h').textContent = TARGET_WORDS[d.action];
    $('target-author').textContent = 'The page did not show which post this answers.';
    $('target-box').hidden = false;
  }
  const links = extractLinks(d.text || '');
  $('links').replaceChildren(...links.map((l) => {
    const li = el('li', { className: `link${l.flags.length ? ' warn' : ''}` });
    // The domain, set apart: it decides who runs the site; the rest of the host is theirs to pick.
    const labels = l.display.split('.');
    const sub = labels.length > 2 ? `${labels.slice(0, -2).join('.')}.` : '';
    li.append(el('span', { className: 'to' }, `${l.text} → ${sub}`, el('span', { className: 'domain' }, labels.slice(-2).join('.'))));
    if (l.display !== l.host) li.append(el('span', { className: 'to' }, ` (the browser goes to ${l.host})`));
    for (const f of l.flags) li.append(el('span', { className: 'flag' }, `⚠ ${FLAG_WORDS[f] || f}`));
    li.dataset.flags = l.flags.join(' ');
    return li;
  }));
  $('links-box').hidden = links.length === 0;
  const media = d.media || [];
  $('media-h').textContent = media.length ? `Attachments (${media.length})` : 'Attachments: none';
  $('media').replaceChildren(...media.map((f, i) => {
    const pic = f.thumb ? el('img', { src: f.thumb, alt: f.alt || `attachment ${i + 1}` }) : el('span', { className: 'noimg' }, f.type.startsWith('video/') ? 'video: no picture' : 'no picture');
    const words = el('div', {}, el('strong', {}, f.name || `attachment ${i + 1}`), el('br'), `${sizeWords(f.size)}, ${f.type}`, el('br'), f.alt ? `Alt text: ${f.alt}` : 'No alt text');
    return el('li', {}, pic, words);
  }));
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
  showPost(d);
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
    say(`Approved by ${name}. Go back to the post and press Post again: this exact post (text, attachments and the post it refers to) can be published once.`, 'ok');
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
