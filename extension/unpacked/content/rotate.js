// Fills the platform's change-password form inside a rotate session (PROTOCOL.md §2.5
// "Rotation"). Injected by the worker only into the top frame of its own tab on the
// change-password page of the session's platform host. Once the form's fields show, it asks the
// worker for the values (once), types the current password and the new one twice with real
// input events (React-controlled inputs ignore a bare `.value =`), and submits. The values live
// only inside this one call. The worker reads the platform's answer from the page itself.

(() => {
  if (window.__foureyesRotate) return;
  Object.defineProperty(window, '__foureyesRotate', { value: true });

  const ask = (msg) => new Promise((resolve) => {
    try { chrome.runtime.sendMessage(msg, (r) => resolve(chrome.runtime.lastError ? null : r)); } catch { resolve(null); }
  });
  const visible = (el) => !!el && el.isConnected && !el.disabled && el.getClientRects().length > 0;
  const q = (sel) => { try { return document.querySelector(sel); } catch { return null; } };

  function type(el, value) {
    el.focus();
    const proto = HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, value);
    el.dispatchEvent(new InputEvent('input', { bubbles: true, composed: true, inputType: 'insertText', data: value }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }

  let form = null;
  let busy = false;
  let done = false;

  async function tick() {
    // The page gate holds every button click until it has its configuration: wait for it.
    if (busy || done || !form || !document.documentElement.hasAttribute('data-foureyes')) return;
    const els = [form.current, form.new, form.confirm].map(q);
    if (!els.every(visible)) return;
    busy = true;
    done = true;
    try {
      const r = await ask({ type: 'cs:rotate-fill' });
      if (!r || !r.ok) return;
      type(els[0], r.current);
      type(els[1], r.new);
      type(els[2], r.new);
      const b = form.submit.map(q).find(visible);
      if (b) b.click();
      else if (els[2].form) els[2].form.requestSubmit();
    } finally {
      busy = false;
      stop();
    }
  }

  const obs = new MutationObserver(() => { tick(); });
  const timer = setInterval(tick, 250);
  const stopTimer = setTimeout(stop, 60000);
  function stop() { obs.disconnect(); clearInterval(timer); clearTimeout(stopTimer); }

  ask({ type: 'cs:rotate-hello' }).then((r) => {
    if (!r || !r.ok || !r.form) { stop(); return; }
    form = r.form;
    obs.observe(document.documentElement, { childList: true, subtree: true });
    tick();
  });
})();
