/**
 * The HTML report (src/report/) on a hand-made evaluation: renders of the sprite world stand in for
 * the models' images, metrics.json follows the contract, training logs have the method's shape. The
 * page opens from disk in headless Chromium with every table, plot and grid; the plots are SVG drawn
 * by Vega-Lite.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { evalItems, table4Texts } from '../../src/eval/eval_set.js';
import { type MetricsJson, PAPER_MODELS, PAPER_PANELS, validateMetrics } from '../../src/eval/metrics.js';
import { panelPlot, renderSvg } from '../../src/report/plots.js';
import { type ReportDetails, reportFromFolder } from '../../src/report/report.js';
import { writePng } from '../../src/world/png.js';
import { parsePrompt } from '../../src/world/prompt.js';
import { render } from '../../src/world/render.js';
import { CHROMIUM, openReport, REPORT_PLOTS, REPORT_TABLES } from './chromium.js';

let dir: string;
const items = evalItems(table4Texts(30)); // 4 prompts: 2 seen, 2 unseen

before(() => {
  dir = mkdtempSync(join(tmpdir(), 't2i-report-'));
  const cats = (x: number | null) => ({ count: x, color: x, background: x, combination: x, all: x });
  const hist = [0.05, 0, 0, 0.1, 0.1, 0.1, 0.15, 0.2, 0.2, 0.1];
  const metrics: MetricsJson = {
    preset: 'test',
    models: Object.fromEntries(
      PAPER_MODELS.map((m, i) => [
        m,
        {
          alignment: { seen: { ...cats(0.5 + 0.1 * i), combination: null }, unseen: cats(0.25) },
          wellformed: 0.9,
          reward_mean: 0.4 + 0.05 * i,
          clip_score: 0.2,
          fd: 0.5 + i,
        },
      ]),
    ),
    reward_model: {
      accuracy: cats(0.9),
      clip_score_accuracy: cats(0.7),
      size_ablation: [0.1, 0.25, 0.5, 1].map((fraction) => ({ fraction, accuracy: 0.7 + 0.2 * fraction })),
      protocols: {
        images: {
          accuracy: cats(0.93),
          clip_score_accuracy: cats(0.72),
          size_ablation: [0.1, 0.25, 0.5, 1].map((fraction) => ({
            fraction,
            accuracy: 0.75 + 0.2 * fraction,
          })),
        },
        prompts: {
          accuracy: cats(0.9),
          clip_score_accuracy: cats(0.7),
          size_ablation: [0.1, 0.25, 0.5, 1].map((fraction) => ({
            fraction,
            accuracy: 0.7 + 0.2 * fraction,
          })),
        },
      },
    },
    panel: Object.fromEntries(
      PAPER_PANELS.map((p) => [
        p,
        { alignment: { votes_hist: hist, win_7plus: 0.5 }, fidelity: { votes_hist: hist, win_7plus: 0.5 } },
      ]),
    ),
  };
  // images: renders of each prompt, 4 per model (the "finetuned" ones with other seeds)
  const files: Record<string, string[][]> = {};
  for (const [m, offset] of [
    ['original', 0],
    ['finetuned', 1000],
  ] as const) {
    files[m] = items.map((it) =>
      [0, 1, 2, 3].map((k) => {
        const f = join(dir, 'images', m, `${it.index}-${k}.png`);
        mkdirSync(join(dir, 'images', m), { recursive: true });
        writePng(f, render(parsePrompt(it.text), offset + 10 * it.index + k));
        return f;
      }),
    );
  }
  const rewardLog = join(dir, 'reward-log.jsonl');
  writeFileSync(
    rewardLog,
    [1, 2, 3]
      .map((epoch) =>
        JSON.stringify({
          epoch,
          train: { loss: 1 / epoch, accuracy: { all: 0.6 + 0.1 * epoch } },
          val: { loss: 1.2 / epoch, accuracy: { all: 0.55 + 0.1 * epoch } },
        }),
      )
      .join('\n'),
  );
  const ftLog = (name: string) => {
    const path = join(dir, `${name}-log.jsonl`);
    writeFileSync(
      path,
      [2, 4, 6]
        .map((step) => JSON.stringify({ step, loss: 0.5 / step, modelTerm: 0.3 / step, preTerm: 0.2 }))
        .join('\n'),
    );
    return path;
  };
  const model = (m: string) => ({
    files: files[m]!,
    good: items.map(() => [true, false, true, true]),
    wellformed: items.map(() => [true, true, true, true]),
    reward: items.map(() => [0.5, 0.5, 0.5, 0.5]),
    clip_score: items.map(() => [0.2, 0.2, 0.2, 0.2]),
  });
  const details: ReportDetails = {
    items: items.map((it) => ({ index: it.index, text: it.text, split: it.split, category: it.category })),
    seed: 0,
    per_prompt: 4,
    fd_images: 100,
    clip: 'clip',
    reward: 'reward',
    models: { original: model('original'), finetuned: model('finetuned') },
    panels: Object.fromEntries(
      PAPER_PANELS.map((p) => {
        const [a, b] = p.split('_vs_');
        return [p, { a: a!, b: b!, per_query: [] }];
      }),
    ),
    reward_ablation: [],
    logs: {
      reward: rewardLog,
      finetune: { finetuned: ftLog('finetuned'), ft_no_pretrain: ftLog('ft_no_pretrain') },
    },
    database: join(dir, 'feedback.db'),
  };
  writeFileSync(join(dir, 'metrics.json'), JSON.stringify(validateMetrics(metrics, { complete: true })));
  writeFileSync(join(dir, 'details.json'), JSON.stringify(details));
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('a panel plot is an SVG drawn by Vega with its title, bars and legend', async () => {
  const hist = [0, 0, 0, 0, 0.25, 0.25, 0, 0.25, 0, 0.25];
  const svg = await renderSvg(
    panelPlot('finetuned_vs_original', 'finetuned', 'original', {
      alignment: { votes_hist: hist, win_7plus: 0.5 },
      fidelity: { votes_hist: hist, win_7plus: 0.5 },
    }),
  );
  assert.match(svg, /^<svg [^>]*class="marks"/);
  assert.match(svg, /finetuned vs original/);
  assert.match(svg, /7\+ votes: alignment 50%, fidelity 50%/);
  // a stacked bar per question and non-empty vote bucket: 2 questions x 4 buckets
  assert.equal((svg.match(/aria-roledescription="bar"/g) ?? []).length, 8);
  assert.match(svg, /votes for finetuned/);
});

test('the report opens from disk in headless Chromium with every table, plot and grid', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed`,
}, async () => {
  const { plots, grids } = await reportFromFolder(dir, { title: 'report test' });
  assert.deepEqual([...plots].sort(), [...REPORT_PLOTS].sort());
  assert.equal(grids.length, items.length);
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<script/, 'a static page: no script');
  const page = await openReport(dir);
  assert.equal(page.title, 'report test');
  for (const t of REPORT_TABLES)
    assert.ok((page.tableRows[t] ?? 0) > 0, `table ${t}: ${JSON.stringify(page.tableRows)}`);
  // Table 3 lists the four models of the paper's Table 3
  assert.equal(page.tableRows['table3'], 4);
  assert.equal(page.tableRows['models'], PAPER_MODELS.length);
  // both protocols: reward and CLIP score, by prompt and by image
  assert.equal(page.tableRows['reward-accuracy'], 4);
  for (const p of REPORT_PLOTS)
    assert.ok((page.plots[p] ?? 0) > 100, `plot ${p} loaded: ${JSON.stringify(page.plots)}`);
  assert.deepEqual(
    page.grids,
    items.map((it) => it.text),
  );
});
