// Shared helpers of the feedback UI pages.

/** Calls the JSON API; throws an Error carrying `status` and `code` on a 4xx/5xx answer. */
export async function api(path, { method = 'GET', body, type = 'application/json' } = {}) {
  const init = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = type;
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) {
    const err = new Error(data?.error?.message ?? `HTTP ${res.status}`);
    err.status = res.status;
    err.code = data?.error?.code;
    throw err;
  }
  return data;
}

/** Builds an element; children are nodes or strings (set as text, never parsed as HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'style')
      node.style.cssText = v; // CSSOM, allowed by the CSP (style attributes are not)
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

/** The signed-in labeler, or a redirect to the sign-in page. */
export async function requireMe() {
  try {
    return await api('/api/me');
  } catch (e) {
    if (e.status === 401) {
      location.href = `/?next=${encodeURIComponent(location.pathname)}`;
      return new Promise(() => {});
    }
    throw e;
  }
}

/** Fills the header with the labeler's name and wires the sign-out button. */
export function showUser(me) {
  const who = document.getElementById('who');
  if (who) who.textContent = `${me.labeler.name}${me.labeler.isAdmin ? ' (admin)' : ''}`;
  const out = document.getElementById('signout');
  if (out) {
    out.hidden = false;
    out.addEventListener('click', async () => {
      await api('/api/session', { method: 'DELETE' });
      location.href = '/';
    });
  }
}

export function setStatus(message, isError = false) {
  const s = document.getElementById('status');
  if (!s) return;
  s.textContent = message;
  s.classList.toggle('error', isError);
}

export function pct(x, digits = 1) {
  return `${(x ?? 0).toFixed(digits)}%`;
}

/** True when a key event comes from a text field (shortcuts must not fire while typing). */
export function typing(event) {
  const t = event.target;
  return t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t?.isContentEditable;
}
