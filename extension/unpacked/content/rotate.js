// Does the steps of the platform's change-password form inside a rotate session (PROTOCOL.md
// §2.5 "Rotation"). Injected by the worker only into the top frame of its own tab on the
// change-password page of the session's platform host. The steps come from the platform table
// (lib/rotation.js passwordSteps), each done once its element shows: a click; a field only a
// person can fill (Bluesky's e-mailed code: the worker brings the tab to the front with a notice,
// and the step is done once the person typed text that fits the step's pattern); the current,
// new or repeated new password, typed with real input events (React-controlled inputs ignore a
// bare `.value =`); the submit. The worker asks the daemon for the passwords when the first step
// shows, and hands them over at the first password field; they live only inside that one call.
// The worker reads the platform's answer from the page itself.

(() => {
  if (window.__foureyesRotate) return;
  Object.defineProperty(window, '__foureyesRotate', { value: true });

  const ask = (msg) => new Promise((resolve) => {
    try { chrome.runtime.sendMessage(msg, (r) => resolve(chrome.runtime.lastError ? null : r)); } catch { resolve(null); }
  });
  const visible = (el) => !!el && el.isConnected && !el.disabled && el.getClientRects().length > 0;
  const q = (sel) => { try { return document.querySelector(sel); } catch { return null; } };
  const PASSWORDS = ['current', 'new', 'confirm'];

  function type(el, value) {
    el.focus();
    const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, value);
    el.dispatchEvent(new InputEvent('input', { bubbles: true, composed: true, inputType: 'insertText', data: value }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }

  // personReady of lib/rotation.js (a content script cannot import it).
  function personReady(step, value, typed) {
    if (!step || !step.person || !typed || typeof value !== 'string') return false;
    const v = value.trim();
    if (!v) return false;
    if (!step.pattern) return true;
    try { return new RegExp(step.pattern).test(v); } catch { return false; }
  }

  let steps = null;
  let i = 0;
  let busy = false;
  let begun = false;
  let values = null;
  let waiting = -1;        // the person step the worker was told of
  let typed = false;       // a trusted input event reached the person step's field
  let person = null;

  function onInput(ev) { if (ev.isTrusted) typed = true; }

  async function tick() {
    // The page gate holds every button click until it has its configuration: wait for it.
    if (busy || !steps || i >= steps.length || !document.documentElement.hasAttribute('data-foureyes')) return;
    const s = steps[i];
    busy = true;
    try {
      if (s.submit) {
        const b = s.submit.map(q).find(visible);
        if (!b) return;
        b.click();
        i++;
        stop();
        return;
      }
      const el = q(s.click || s.person || s.current || s.new || s.confirm);
      if (!visible(el)) return;
      if (!begun) {
        begun = true;
        const r = await ask({ type: 'cs:rotate-begin' });
        if (!r || !r.ok) { stop(); return; }
      }
      if (s.click) { el.click(); i++; return; }
      if (s.person) {
        if (waiting !== i) {
          waiting = i;
          typed = false;
          person = el;
          el.addEventListener('input', onInput, true);
          const r = await ask({ type: 'cs:rotate-person', index: i });
          if (!r || !r.ok) { stop(); return; }
          el.focus();
        }
        if (!personReady(s, el.value, typed)) return;
        el.removeEventListener('input', onInput, true);
        i++;
        return;
      }
      for (const f of PASSWORDS) {
        if (!s[f]) continue;
        // A password goes only into a password field: a table selector that now matches a text
        // field (which the page might echo or keep) stops the change; the worker fails it.
        if (!(el instanceof HTMLInputElement) || el.type !== 'password') { stop(); return; }
        if (!values) {
          const r = await ask({ type: 'cs:rotate-fill' });
          if (!r || !r.ok) { stop(); return; }
          values = r;
        }
        type(el, f === 'current' ? values.current : values.new);
        i++;
        return;
      }
    } finally {
      busy = false;
    }
  }

  const obs = new MutationObserver(() => { tick(); });
  const timer = setInterval(tick, 250);
  function stop() {
    obs.disconnect();
    clearInterval(timer);
    if (person) person.removeEventListener('input', onInput, true);
    values = null;
    steps = null;
  }

  ask({ type: 'cs:rotate-hello' }).then((r) => {
    if (!r || !r.ok || !Array.isArray(r.steps)) { stop(); return; }
    steps = r.steps;
    obs.observe(document.documentElement, { childList: true, subtree: true });
    tick();
  });
})();
