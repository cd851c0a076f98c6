// Admin page: progress, the paper's Table 2, agreement, rater-panel results, export / import.
import { api, el, pct, requireMe, setStatus, showUser } from './common.js';

const app = document.getElementById('app');
const fmt = (x, d = 3) => (x === null || x === undefined ? '—' : x.toFixed(d));

function table(id, head, rows, totalLast = false) {
  const t = document.getElementById(id);
  t.replaceChildren(
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        head.map((h) => el('th', {}, h)),
      ),
    ),
    el(
      'tbody',
      {},
      rows.map((r, i) =>
        el(
          'tr',
          { class: totalLast && i === rows.length - 1 ? 'total' : undefined },
          r.map((c) => el('td', {}, c)),
        ),
      ),
    ),
  );
}

function hist(result) {
  const n = result.votes_hist.length - 1;
  const max = Math.max(...result.votes_hist, 1e-9);
  return el(
    'div',
    {},
    el(
      'div',
      { class: 'hist' },
      result.votes_hist.map((h, k) =>
        el('div', {
          class: k >= result.win_threshold ? 'win' : undefined,
          style: `height: ${(100 * h) / max}%`,
          title: `${k} of ${n} votes: ${pct(100 * h)}`,
        }),
      ),
    ),
    el(
      'div',
      { class: 'hist-axis' },
      result.votes_hist.map((_, k) => el('span', {}, String(k))),
    ),
  );
}

function render(s) {
  const p = s.progress;
  document
    .getElementById('stats')
    .replaceChildren(
      el('div', { class: 'stat' }, el('b', {}, String(p.total.images)), 'images to label'),
      el('div', { class: 'stat' }, el('b', {}, String(p.total.labels)), 'labels'),
      el(
        'div',
        { class: 'stat' },
        el('b', {}, pct(100 * p.total.fraction)),
        `of ${s.settings.labelsPerImage} labels per image`,
      ),
      el(
        'div',
        { class: 'stat' },
        el('b', {}, String(p.byLabeler.filter((l) => l.labels > 0).length)),
        'active labelers',
      ),
    );
  table(
    'table2',
    ['Category', 'Total # of images', 'Good (%)', 'Bad (%)', 'Skip (%)', 'Labels'],
    s.table2.map((r) => [
      r.category === 'total' ? 'Total' : r.category[0].toUpperCase() + r.category.slice(1),
      String(r.images),
      r.goodPct.toFixed(1),
      r.badPct.toFixed(1),
      r.skipPct.toFixed(1),
      String(r.labels),
    ]),
    true,
  );
  table(
    'by-category',
    ['Category', 'Images', 'Fully labeled', 'Labels', 'Done'],
    [...p.byCategory, { category: 'total', ...p.total }].map((r) => [
      r.category,
      String(r.images),
      String(r.complete),
      String(r.labels),
      pct(100 * r.fraction),
    ]),
    true,
  );
  table(
    'by-labeler',
    ['Labeler', 'Kind', 'Labels', 'Good', 'Bad', 'Skip', 'Last answer'],
    p.byLabeler.map((l) => [
      l.name,
      l.kind,
      String(l.labels),
      String(l.good),
      String(l.bad),
      String(l.skip),
      l.lastLabelAt ? new Date(l.lastLabelAt).toLocaleString() : '—',
    ]),
  );
  const a = s.agreement;
  const method = { cohen: "Cohen's κ", fleiss: "Fleiss' κ", none: 'κ' }[a.method];
  document.getElementById('kappa').textContent =
    a.method === 'none'
      ? 'No image has two labels yet.'
      : `${method} = ${fmt(a.kappa)} over ${a.items} images (${a.raters} labelers, good / bad / skip).`;
  table(
    'kappa-table',
    ['Category', 'Method', 'κ', 'Images'],
    [
      ...Object.entries(a.byGroup).map(([g, r]) => [g, r.method, fmt(r.kappa), String(r.items)]),
      ...a.pairwise.map((r) => [`${r.nameA} × ${r.nameB}`, "Cohen's (pair)", fmt(r.kappa), String(r.items)]),
    ],
  );
  const panels = Object.values(s.panels);
  document.getElementById('panels').replaceChildren(
    ...(panels.length === 0
      ? [el('p', { class: 'muted' }, 'No comparisons yet.')]
      : panels.map((r) =>
          el(
            'div',
            {},
            el('h3', {}, `${r.modelA} vs ${r.modelB}`),
            el(
              'p',
              { class: 'muted' },
              `${r.complete} of ${r.queries} queries have all ${s.settings.ratersPerQuery} raters; histogram: queries by number of votes for ${r.modelA}.`,
            ),
            el(
              'div',
              { class: 'sets' },
              ['alignment', 'fidelity'].map((q) =>
                el(
                  'div',
                  {},
                  el('b', {}, q),
                  ` — won with ≥ ${r[q].win_threshold} votes: ${pct(100 * r[q].win_7plus)}`,
                  hist(r[q]),
                ),
              ),
            ),
          ),
        )),
  );
}

async function refresh() {
  render(await api('/api/admin/summary'));
}

document.getElementById('import').addEventListener('click', async () => {
  const file = document.getElementById('import-file').files[0];
  if (!file) {
    setStatus('Pick a JSONL file first.', true);
    return;
  }
  try {
    const r = await api('/api/admin/import', {
      method: 'POST',
      body: await file.text(),
      type: 'application/x-ndjson',
    });
    setStatus(
      `Imported ${r.inserted} labels (${r.unchanged} already there, ${r.conflicting} conflicting, ${r.labelersCreated} new labelers).`,
    );
    await refresh();
  } catch (e) {
    setStatus(e.message, true);
  }
});

document.getElementById('add-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const r = await api('/api/admin/labelers', {
      method: 'POST',
      body: {
        name: document.getElementById('new-name').value.trim(),
        admin: document.getElementById('new-admin').checked,
      },
    });
    document.getElementById('token-value').textContent = r.token;
    document.getElementById('new-token').hidden = false;
    setStatus(`Added ${r.labeler.name}. Give them their name and this token.`);
    await refresh();
  } catch (e) {
    setStatus(e.message, true);
  }
});

const me = await requireMe();
showUser(me);
if (!me.labeler.isAdmin) {
  document.getElementById('forbidden').hidden = false;
  app.dataset.state = 'forbidden';
} else {
  try {
    await refresh();
    document.getElementById('content').hidden = false;
    app.dataset.state = 'ready';
  } catch (e) {
    setStatus(e.message, true);
    app.dataset.state = 'error';
  }
}
