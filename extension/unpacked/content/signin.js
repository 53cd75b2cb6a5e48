// Fills the platform's sign-in form inside a posting session (custody, PROTOCOL.md §2.5).
// Injected by the worker only into the top frame of a tab on the sign-in page of a session's
// sign-in host. Step by step (the platform table's login.steps): find the step whose fields are
// on the page, ask the worker for exactly those values, type them with real input events (the
// platforms' inputs are React-controlled: a bare `.value =` is ignored), submit, and go on with
// the next step as the page shows it. The values are kept nowhere: each lives in one call.
//
// Runs in the extension's isolated world: the page's scripts cannot read this script's variables
// or the worker's answers, only what the form itself shows.

(() => {
  if (window.__foureyesSignin) return;
  Object.defineProperty(window, '__foureyesSignin', { value: true });

  const ask = (msg) => new Promise((resolve) => {
    try { chrome.runtime.sendMessage(msg, (r) => resolve(chrome.runtime.lastError ? null : r)); } catch { resolve(null); }
  });

  const visible = (el) => !!el && el.isConnected && !el.disabled && el.getClientRects().length > 0;
  const q = (sel) => { try { return document.querySelector(sel); } catch { return null; } };

  function type(el, value) {
    el.focus();
    // The prototype's setter, as typing does: a page that tracks the element's own value
    // property (React) then sees a change in the input event.
    const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, value);
    el.dispatchEvent(new InputEvent('input', { bubbles: true, composed: true, inputType: 'insertText', data: value }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }

  function submit(step, last) {
    for (const sel of step.submit) {
      const b = q(sel);
      if (visible(b)) { b.click(); return; }
    }
    if (last.form) last.form.requestSubmit();
    else last.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', code: 'Enter', keyCode: 13, bubbles: true, cancelable: true }));
  }

  let steps = null;
  let stops = [];
  const done = new Set(); // steps filled on this page
  let busy = false;
  const FIELDS = ['username', 'password', 'totp'];

  async function tick() {
    // The page gate holds every button click until it has its configuration: wait for it, or
    // the gate swallows the form's submit.
    if (busy || !steps || !document.documentElement.hasAttribute('data-foureyes')) return;
    // A field the extension cannot fill (an e-mailed code): stop, and the worker says why.
    const halt = stops.find((x) => visible(q(x.selector)));
    if (halt) {
      busy = true;
      stop();
      await ask({ type: 'cs:signin-stop', notice: halt.notice });
      return;
    }
    for (let i = 0; i < steps.length; i++) {
      if (done.has(i)) continue;
      const s = steps[i];
      if (s.click) {
        // A button that leads to the form (Bluesky's "Sign in"): pressed once, if it shows.
        const b = q(s.click);
        if (!visible(b)) continue;
        done.add(i);
        b.click();
        return;
      }
      const fields = FIELDS.filter((f) => s[f]);
      const els = fields.map((f) => q(s[f]));
      if (!els.every(visible)) continue;
      busy = true;
      done.add(i);
      try {
        const r = await ask({ type: 'cs:signin-step', fields });
        if (!r || !r.ok) { stop(); return; }
        fields.forEach((f, k) => type(els[k], r.values[f]));
        submit(s, els[els.length - 1]);
      } finally {
        busy = false;
      }
      return;
    }
    // Every step filled: keep watching until the page goes (the worker closes the tab) or the
    // minute is up, for a field that comes after them and cannot be filled (login.stop).
    if (steps.every((s, i) => done.has(i) || s.click) && !stops.length) stop();
  }

  const obs = new MutationObserver(() => { tick(); });
  const timer = setInterval(tick, 250);
  const stopTimer = setTimeout(stop, 60000); // a sign-in that has not happened in a minute will not
  function stop() { obs.disconnect(); clearInterval(timer); clearTimeout(stopTimer); }

  ask({ type: 'cs:signin-hello' }).then((r) => {
    if (!r || !r.ok || !Array.isArray(r.steps)) { stop(); return; }
    steps = r.steps;
    stops = Array.isArray(r.stop) ? r.stop : [];
    obs.observe(document.documentElement, { childList: true, subtree: true });
    tick();
  });
})();
