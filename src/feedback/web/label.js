// Labeling page: one image at a time; G / B / S answer, U undoes the last answer.
import { api, requireMe, setStatus, showUser, typing } from './common.js';

const app = document.getElementById('app');
const img = document.getElementById('image');
const buttons = ['good', 'bad', 'skip'].map((v) => document.getElementById(v));
let current = null;
let busy = true;

function setState(state) {
  app.dataset.state = state;
  busy = state !== 'ready' && state !== 'done';
  for (const b of buttons) b.disabled = state !== 'ready';
}

function showProgress(p) {
  const share = p.total ? p.complete / p.total : 0;
  document.getElementById('meter').style.width = `${(100 * share).toFixed(1)}%`;
  document.getElementById('progress').textContent =
    `You have labeled ${p.labeled} image${p.labeled === 1 ? '' : 's'} · ` +
    `${p.complete} of ${p.total} images have all ${p.labelsPerImage} labels (${(100 * share).toFixed(1)}%)`;
}

async function loadNext() {
  setState('busy');
  const res = await api('/api/queue/next');
  showProgress(res.progress);
  current = res.image;
  if (!current) {
    document.getElementById('task').hidden = true;
    document.getElementById('done').hidden = false;
    app.dataset.imageId = '';
    setState('done');
    return;
  }
  document.getElementById('done').hidden = true;
  document.getElementById('task').hidden = false;
  document.getElementById('prompt').textContent = current.prompt;
  document.getElementById('category').textContent = current.category;
  await new Promise((resolve) => {
    img.onload = resolve;
    img.onerror = () => {
      setStatus(`Image ${current.id} could not be loaded; you can still skip it.`, true);
      resolve();
    };
    img.src = current.url;
  });
  app.dataset.imageId = String(current.id);
  setState('ready');
}

async function answer(value) {
  if (busy || !current) return;
  const id = current.id;
  setState('busy');
  try {
    await api('/api/labels', { method: 'POST', body: { imageId: id, value } });
    setStatus(`Saved: image ${id} is ${value}.`);
  } catch (e) {
    setStatus(e.message, true);
  }
  await loadNext();
}

async function undo() {
  if (busy) return;
  setState('busy');
  try {
    const res = await api('/api/labels/undo', { method: 'POST', body: {} });
    setStatus(
      res.undone ? `Undone: image ${res.undone.imageId} was ${res.undone.value}.` : 'Nothing to undo.',
    );
  } catch (e) {
    setStatus(e.message, true);
  }
  await loadNext();
}

document.getElementById('good').addEventListener('click', () => answer('good'));
document.getElementById('bad').addEventListener('click', () => answer('bad'));
document.getElementById('skip').addEventListener('click', () => answer('skip'));
document.getElementById('undo').addEventListener('click', undo);
document.getElementById('undo-done').addEventListener('click', undo);
document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
  const key = event.key.toLowerCase();
  const action = { g: 'good', b: 'bad', s: 'skip' }[key];
  if (action) {
    event.preventDefault();
    answer(action);
  } else if (key === 'u') {
    event.preventDefault();
    undo();
  }
});

const me = await requireMe();
showUser(me);
try {
  await loadNext();
} catch (e) {
  setStatus(e.message, true);
  setState('error');
}
