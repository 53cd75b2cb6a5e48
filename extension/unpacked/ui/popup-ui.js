// Toolbar popup: is the daemon reachable, and what is open right now.

import { explain } from '../lib/explain.js';

const $ = (id) => document.getElementById(id);

function render(r) {
  const up = r && r.connection && r.connection.state === 'up';
  $('dot').classList.toggle('up', !!up);
  $('conn').textContent = up ? 'Connected to the foureyes daemon' : 'Not connected';
  $('msg').textContent = up ? '' : explain({ code: (r && r.connection && r.connection.code) || 'daemon_unavailable', message: r && r.connection && r.connection.message });
  $('msg').className = up ? 'msg' : 'msg err';
  const s = r && r.daemon;
  $('facts').hidden = !s;
  if (s) {
    $('sessions').textContent = String(s.open_sessions ?? 0);
    $('requests').textContent = String(s.pending_requests ?? 0);
    $('version').textContent = s.version || '';
  }
}

async function refresh(type) {
  render(await chrome.runtime.sendMessage({ type }));
}

$('retry').addEventListener('click', () => refresh('ui:reconnect'));
refresh('ui:status');
