// Comparison page (paper Figures 4 and 6): two anonymized sets of images for one prompt; the rater
// says which is better for alignment and for fidelity, or tie.
import { api, el, requireMe, setStatus, showUser, typing } from './common.js';

const app = document.getElementById('app');
const submit = document.getElementById('submit');
const answers = { alignment: null, fidelity: null };
let current = null;
let busy = true;

function render(question) {
  const set = document.querySelector(`[data-question="${question}"]`);
  for (const b of set.querySelectorAll('button')) {
    b.setAttribute('aria-pressed', String(b.dataset.choice === answers[question]));
  }
  submit.disabled = busy || !answers.alignment || !answers.fidelity;
}

function choose(question, choice) {
  if (busy || !current) return;
  answers[question] = choice;
  render(question);
}

function images(target, list) {
  const box = document.getElementById(target);
  box.replaceChildren(
    ...list.map((im) => el('img', { src: im.url, class: 'pixelated', alt: `${target} image` })),
  );
}

async function loadNext() {
  busy = true;
  app.dataset.state = 'busy';
  const res = await api('/api/compare/next');
  const p = res.progress;
  document.getElementById('progress').textContent =
    `You have answered ${p.rated} comparison${p.rated === 1 ? '' : 's'} · ` +
    `${p.complete} of ${p.total} have all ${p.ratersPerQuery} raters`;
  current = res.comparison;
  answers.alignment = null;
  answers.fidelity = null;
  if (!current) {
    document.getElementById('task').hidden = true;
    document.getElementById('done').hidden = false;
    app.dataset.state = 'done';
    app.dataset.comparisonId = '';
    return;
  }
  document.getElementById('prompt').textContent = current.prompt;
  images('left', current.left);
  images('right', current.right);
  document.getElementById('done').hidden = true;
  document.getElementById('task').hidden = false;
  busy = false;
  render('alignment');
  render('fidelity');
  app.dataset.comparisonId = String(current.id);
  app.dataset.state = 'ready';
}

async function send() {
  if (busy || !current || !answers.alignment || !answers.fidelity) return;
  busy = true;
  submit.disabled = true;
  app.dataset.state = 'busy';
  try {
    await api('/api/votes', { method: 'POST', body: { comparisonId: current.id, ...answers } });
    setStatus(`Saved your answers for comparison ${current.id}.`);
  } catch (e) {
    setStatus(e.message, true);
  }
  await loadNext();
}

for (const set of document.querySelectorAll('[data-question]')) {
  for (const b of set.querySelectorAll('button')) {
    b.addEventListener('click', () => choose(set.dataset.question, b.dataset.choice));
  }
}
submit.addEventListener('click', send);
document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
  const keys = {
    1: ['alignment', 'left'],
    2: ['alignment', 'tie'],
    3: ['alignment', 'right'],
    4: ['fidelity', 'left'],
    5: ['fidelity', 'tie'],
    6: ['fidelity', 'right'],
  };
  if (keys[event.key]) {
    event.preventDefault();
    choose(...keys[event.key]);
  } else if (event.key === 'Enter') {
    event.preventDefault();
    send();
  }
});

const me = await requireMe();
showUser(me);
try {
  await loadNext();
} catch (e) {
  setStatus(e.message, true);
  app.dataset.state = 'error';
}
