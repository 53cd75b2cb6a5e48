// Upload observer: runs in the platform page's own world (MAIN) from document_start, before the
// page's scripts, because the media id a platform gives an uploaded file is only in the upload's
// response, which the extension's network layer cannot read. It wraps fetch and XMLHttpRequest
// and, for every request whose body carries a file (a form with a file, or a body that is a file's
// bytes), posts {url, method, string fields, file bytes, response text} to the page gate
// (content/gate.js), which matches it against the platform table's upload endpoints and hashes
// the bytes.
//
// It decides nothing: the page can remove or fool it (see installer/threat-model.md). What it
// reports can only tie bytes to a media id; an id it never saw counts as unknown bytes, so a
// missing or lying observer makes a post with media fail its check, never pass one.

(() => {
  if (window.__foureyesObserve) return;
  Object.defineProperty(window, '__foureyesObserve', { value: true });
  const post = window.postMessage.bind(window);
  const origFetch = window.fetch;
  const XHR = window.XMLHttpRequest && window.XMLHttpRequest.prototype;
  const origOpen = XHR && XHR.open;
  const origSend = XHR && XHR.send;

  /** parts reads a body with a file in it: {fields, files, body}; null when it has no file. */
  async function parts(body) {
    if (body instanceof FormData) {
      const fields = {}, files = {};
      let any = false;
      for (const [k, v] of body.entries()) {
        if (v instanceof Blob) { files[k] = await v.arrayBuffer(); any = true; } else if (typeof v === 'string') fields[k] = v;
      }
      return any ? { fields, files, body: null } : null;
    }
    if (body instanceof Blob) return { fields: {}, files: {}, body: await body.arrayBuffer() };
    // The file's bytes as the whole body (Bluesky's uploadBlob): a copy, as the page sent them.
    if (body instanceof ArrayBuffer) return { fields: {}, files: {}, body: body.slice(0) };
    if (ArrayBuffer.isView(body)) return { fields: {}, files: {}, body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength).slice().buffer };
    return null;
  }
  const hasFile = (body) => body instanceof FormData || body instanceof Blob || body instanceof ArrayBuffer || ArrayBuffer.isView(body);

  function report(url, method, p, response) {
    try {
      post({ foureyes: 'upload', url: String(new URL(url, location.href)), method: String(method || 'GET').toUpperCase(), fields: p.fields, files: p.files, body: p.body, response: String(response) }, location.origin);
    } catch { /* nothing to report */ }
  }

  if (origFetch) {
    window.fetch = function fetch(input, init) {
      const res = origFetch.apply(this, arguments);
      try {
        const body = init && init.body;
        if (hasFile(body)) {
          const url = input instanceof Request ? input.url : String(input);
          const method = (init && init.method) || (input instanceof Request ? input.method : 'GET');
          const got = parts(body);
          res.then((r) => r.clone().text()).then(async (text) => { const p = await got; if (p) report(url, method, p, text); }).catch(() => {});
        }
      } catch { /* the page's request goes on as it was */ }
      return res;
    };
  }
  if (XHR) {
    XHR.open = function open(method, url) {
      try { this.__feReq = { method, url }; } catch { /* ignore */ }
      return origOpen.apply(this, arguments);
    };
    XHR.send = function send(body) {
      try {
        const req = this.__feReq;
        if (req && hasFile(body)) {
          const got = parts(body);
          this.addEventListener('load', async () => {
            const p = await got;
            let text = '';
            try { text = this.responseType === '' || this.responseType === 'text' ? this.responseText : JSON.stringify(this.response); } catch { text = ''; }
            if (p) report(req.url, req.method, p, text);
          });
        }
      } catch { /* the page's request goes on as it was */ }
      return origSend.apply(this, arguments);
    };
  }
})();
