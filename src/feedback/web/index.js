import { api, setStatus, showUser } from './common.js';

/** Only same-site paths are followed after sign-in. */
function nextPath() {
  const next = new URLSearchParams(location.search).get('next');
  return next && /^\/[A-Za-z0-9/_-]*$/.test(next) && !next.startsWith('//') ? next : null;
}

function showHome(me) {
  document.getElementById('signin').hidden = true;
  document.getElementById('home').hidden = false;
  document.getElementById('home-name').textContent = me.labeler.name;
  document.getElementById('admin-link').hidden = !me.labeler.isAdmin;
  showUser(me);
}

document.getElementById('form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = document.getElementById('name').value.trim();
  const token = document.getElementById('token').value.trim();
  const button = document.getElementById('submit');
  button.disabled = true;
  setStatus('Signing in…');
  try {
    const res = await api('/api/session', { method: 'POST', body: { name, token } });
    const next = nextPath();
    if (next) location.href = next;
    else if (res.labeler.isAdmin) location.href = '/admin';
    else location.href = '/label';
  } catch (e) {
    setStatus(e.message, true);
    button.disabled = false;
  }
});

document.getElementById('name').focus();
try {
  const me = await api('/api/me');
  if (!nextPath()) showHome(me);
} catch {
  // not signed in: the form stays
}
