/**
 * The evaluation report: `<report>/index.html`, a static page that opens from disk (no server, no
 * script), beside `metrics.json`, `details.json`, `plots/*.svg` (Vega-Lite, plots.ts) and
 * `grids/*.png` (one image grid per evaluation prompt: a row of 4 images per model, original above
 * fine-tuned).
 *
 *   tables   models (alignment, well-formed, reward, CLIP score, FD), alignment per category, the
 *            Table 3 analog, rater panels, reward model vs CLIP score, human-data-size ablation
 *   plots    vote histograms (Figures 4, 6), accuracy bars (Figure 5), size ablation, training curves
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvalDetails } from '../eval/evaluate.js';
import { type ByCategory, METRIC_CATEGORIES, type MetricsJson, validateMetrics } from '../eval/metrics.js';
import type { CategoryAccuracy } from '../reward/metrics.js';
import { promptSlug } from '../sampling/feedback_set.js';
import { imageGrid } from '../world/grid.js';
import { readPng, writePng } from '../world/png.js';
import {
  accuracyPlot,
  type FinetuneLogLine,
  finetuneCurvePlot,
  panelPlot,
  type RewardLogLine,
  renderSvg,
  rewardCurvePlot,
  sizeAblationPlot,
} from './plots.js';

/** What the evaluation leaves for the report besides metrics.json (written as details.json). */
export interface ReportDetails extends EvalDetails {
  /** per-category accuracy of each ablation model */
  reward_ablation: { fraction: number; accuracy: CategoryAccuracy }[];
  /** training logs: the reward model's log.jsonl, each fine-tuned model's train/log.jsonl */
  logs: { reward: string | null; finetune: Record<string, string> };
  /** where the comparisons and votes are stored (for the web app), if anywhere */
  database: string | null;
}

/** The paper's Table 3 (FID on MS-COCO, average reward on the 120 prompts), for reference. */
export const PAPER_TABLE3: readonly { model: string; label: string; fid: number; reward: number }[] = [
  { model: 'original', label: 'Original model', fid: 13.97, reward: 0.43 },
  {
    model: 'ft_no_unlabeled_no_pretrain',
    label: 'Fine-tuned w/o unlabeled & pre-train',
    fid: 26.59,
    reward: 0.69,
  },
  { model: 'ft_no_pretrain', label: 'Fine-tuned w/o pre-train', fid: 21.02, reward: 0.79 },
  { model: 'finetuned', label: 'Fine-tuned model', fid: 16.76, reward: 0.79 },
];

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`;
const num = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? '—' : x.toFixed(d));

function table(id: string, caption: string, head: string[], rows: string[][]): string {
  return [
    `<table id="${id}"><caption>${esc(caption)}</caption>`,
    `<thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>`,
    `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody>`,
    '</table>',
  ].join('\n');
}

function readJsonl<T>(path: string | null | undefined): T[] {
  if (!path || !existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

const categoryCells = (r: ByCategory | CategoryAccuracy) =>
  METRIC_CATEGORIES.map((c) => pct(Number.isFinite(r[c] as number) ? (r[c] as number) : null));

/**
 * Writes index.html, plots/ and grids/ into `outDir` (which holds metrics.json). `gridModels` are the
 * rows of each prompt's grid (default: original and finetuned, or the first two models).
 */
export async function writeReport(o: {
  outDir: string;
  title: string;
  metrics: MetricsJson;
  details: ReportDetails;
  gridModels?: readonly string[];
}): Promise<{ plots: string[]; grids: string[] }> {
  const { metrics: m, details: d } = o;
  mkdirSync(join(o.outDir, 'plots'), { recursive: true });
  mkdirSync(join(o.outDir, 'grids'), { recursive: true });
  const names = Object.keys(m.models);
  const plots: string[] = [];
  const plot = async (file: string, spec: Parameters<typeof renderSvg>[0], alt: string) => {
    writeFileSync(join(o.outDir, 'plots', file), await renderSvg(spec));
    plots.push(file);
    return `<figure class="plot"><img src="plots/${file}" alt="${esc(alt)}" data-plot="${file}"></figure>`;
  };
  const sections: string[] = [];

  // models
  sections.push(
    '<section id="models-section"><h2>Models on the evaluation prompts</h2>',
    `<p>${d.items.length} prompts (${d.items.filter((i) => i.split === 'seen').length} seen, ${d.items.filter((i) => i.split === 'unseen').length} unseen), ` +
      `${d.per_prompt} images per prompt with the same seeds for every model (seed ${d.seed}). Aligned: the judge calls the image good. ` +
      `FD: Fréchet distance of world-CLIP image embeddings to ${d.fd_images} held-out corpus renders (lower is closer to the pretraining data).</p>`,
    table(
      'models',
      'Alignment, fidelity, reward and CLIP score per model',
      ['model', 'aligned (seen)', 'aligned (unseen)', 'well-formed', 'mean reward', 'CLIP score', 'FD'],
      names.map((n) => {
        const r = m.models[n]!;
        return [
          esc(n),
          pct(r.alignment.seen.all),
          pct(r.alignment.unseen.all),
          pct(r.wellformed),
          num(r.reward_mean),
          num(r.clip_score),
          num(r.fd, 4),
        ];
      }),
    ),
    table(
      'alignment',
      'Aligned share per split and category (— : no prompt of that category)',
      ['model', 'split', ...METRIC_CATEGORIES],
      names.flatMap((n) =>
        (['seen', 'unseen'] as const).map((s) => [esc(n), s, ...categoryCells(m.models[n]!.alignment[s])]),
      ),
    ),
    '</section>',
  );

  // Table 3
  const t3 = PAPER_TABLE3.filter((r) => m.models[r.model]);
  sections.push(
    '<section id="table3-section"><h2>Fidelity and reward (paper Table 3)</h2>',
    "<p>The sprite world measures fidelity by the Fréchet distance in world-CLIP space where the paper used FID on MS-COCO; the paper's figures are shown for reference.</p>",
    table(
      'table3',
      'Table 3 analog',
      ['model', 'FD (↓)', 'mean reward (↑)', 'paper: FID (↓)', 'paper: mean reward (↑)'],
      t3.map((r) => [
        esc(`${r.label} (${r.model})`),
        num(m.models[r.model]!.fd, 4),
        num(m.models[r.model]!.reward_mean),
        r.fid.toFixed(2),
        r.reward.toFixed(2),
      ]),
    ),
    '</section>',
  );

  // panels
  const panelNames = Object.keys(m.panel);
  const panelFigures: string[] = [];
  for (const name of panelNames) {
    const pd = d.panels[name];
    const [a, b] = pd ? [pd.a, pd.b] : name.split('_vs_');
    panelFigures.push(
      await plot(`panel_${name}.svg`, panelPlot(name, a!, b!, m.panel[name]!), `vote histogram of ${name}`),
    );
  }
  sections.push(
    '<section id="panels-section"><h2>Rater panels (paper Figures 4 and 6)</h2>',
    "<p>For each prompt, 9 simulated raters compare the two models' sets of 4 images for image-text alignment and for fidelity; " +
      'a model wins a prompt with 7 or more votes. The comparisons and votes are stored in the feedback database' +
      `${d.database ? ` (${esc(d.database)}), so <code>t2i-align serve</code> shows them on its admin page` : ''}.</p>`,
    table(
      'panels',
      'Share of prompts won with 7+ of 9 votes',
      [
        'panel',
        'prompts',
        'alignment: 7+ votes',
        'fidelity: 7+ votes',
        'alignment: mean votes',
        'fidelity: mean votes',
      ],
      panelNames.map((n) => {
        const p = m.panel[n]!;
        const meanVotes = (h: number[]) => h.reduce((s, x, k) => s + k * x, 0).toFixed(2);
        return [
          esc(n),
          String(d.panels[n]?.per_query.length ?? '—'),
          pct(p.alignment.win_7plus),
          pct(p.fidelity.win_7plus),
          meanVotes(p.alignment.votes_hist),
          meanVotes(p.fidelity.votes_hist),
        ];
      }),
    ),
    ...panelFigures,
    '</section>',
  );

  // reward model
  const rm = m.reward_model;
  if (rm) {
    sections.push(
      '<section id="reward-section"><h2>Reward model (paper Figure 5 and the data-size ablation)</h2>',
      "<p>Held-out accuracy of predicting each human (simulated) label, 5-fold cross-validated under two protocols: by prompt (every label is predicted by a reward model that never saw its prompt) and, where measured, by image within each prompt (held-out images of training prompts, the paper's protocol). The CLIP score uses one threshold per category chosen on the same training folds.</p>",
      table(
        'reward-accuracy',
        'Held-out accuracy per category',
        ['predictor', ...METRIC_CATEGORIES],
        [
          ['reward model, held-out prompts', ...categoryCells(rm.accuracy)],
          ['CLIP score, held-out prompts', ...categoryCells(rm.clip_score_accuracy)],
          ...(rm.protocols
            ? [
                ['reward model, held-out images', ...categoryCells(rm.protocols.images.accuracy)],
                ['CLIP score, held-out images', ...categoryCells(rm.protocols.images.clip_score_accuracy)],
              ]
            : []),
        ],
      ),
      await plot(
        'reward_accuracy.svg',
        accuracyPlot(rm),
        'held-out accuracy of the reward model and of the CLIP score',
      ),
      table(
        'size-ablation',
        'Reward model trained on a share of the training labels',
        [
          'share of labels',
          ...METRIC_CATEGORIES,
          ...(rm.protocols?.images.size_ablation ? ['all, held-out images'] : []),
        ],
        rm.size_ablation.map((r) => {
          const byCat = d.reward_ablation.find((x) => x.fraction === r.fraction)?.accuracy;
          const images = rm.protocols?.images.size_ablation;
          return [
            pct(r.fraction),
            ...(byCat
              ? categoryCells(byCat)
              : [...METRIC_CATEGORIES.slice(0, 4).map(() => '—'), pct(r.accuracy)]),
            ...(images ? [pct(images.find((x) => x.fraction === r.fraction)?.accuracy ?? null)] : []),
          ];
        }),
      ),
      rm.size_ablation.length
        ? await plot(
            'size_ablation.svg',
            sizeAblationPlot(rm),
            'held-out accuracy against the share of labels',
          )
        : '',
      '</section>',
    );
  } else {
    sections.push(
      '<section id="reward-section"><h2>Reward model</h2><p>Not measured: the evaluation had no labeled run.</p></section>',
    );
  }

  // training curves
  const rewardLog = readJsonl<RewardLogLine>(d.logs.reward);
  const ftLogs: Record<string, FinetuneLogLine[]> = {};
  for (const [name, path] of Object.entries(d.logs.finetune)) {
    const lines = readJsonl<FinetuneLogLine>(path);
    if (lines.length) ftLogs[name] = lines;
  }
  sections.push(
    '<section id="curves-section"><h2>Training curves</h2>',
    rewardLog.length
      ? await plot('curves_reward.svg', rewardCurvePlot(rewardLog), 'reward model training curves')
      : '<p>No reward-model log.</p>',
    Object.keys(ftLogs).length
      ? await plot('curves_finetune.svg', finetuneCurvePlot(ftLogs), 'fine-tuning curves')
      : '<p>No fine-tuning log.</p>',
    '</section>',
  );

  // grids
  const rows = o.gridModels?.filter((g) => d.models[g]) ?? defaultGridModels(names);
  const grids: string[] = [];
  const figures: string[] = [];
  for (const [i, it] of d.items.entries()) {
    const images = rows.flatMap((name) => d.models[name]!.files[i]!.map((f) => readPng(f)));
    const file = `${String(it.index).padStart(4, '0')}-${promptSlug(it.text)}.png`;
    writePng(join(o.outDir, 'grids', file), imageGrid(images, { columns: d.per_prompt, scale: 3, gap: 3 }));
    grids.push(file);
    const counts = rows
      .map(
        (name) => `${esc(name)} ${d.models[name]!.good[i]!.filter(Boolean).length}/${d.per_prompt} aligned`,
      )
      .join(', ');
    figures.push(
      `<figure class="grid" data-prompt="${esc(it.text)}"><img src="grids/${file}" alt="${esc(it.text)}"><figcaption><b>${esc(it.text)}</b> <span class="tag">${it.split}, ${it.category}</span><br>${counts}</figcaption></figure>`,
    );
  }
  sections.push(
    '<section id="grids-section"><h2>Images per evaluation prompt</h2>',
    `<p>Rows, top to bottom: ${rows.map(esc).join(', ')}; 4 images each, same seeds.</p>`,
    `<div class="grids">${figures.join('\n')}</div>`,
    '</section>',
  );

  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(o.title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; } caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; } th:first-child, td:first-child { text-align: left; }
figure.plot { margin: 1em 0; } figure.plot img { max-width: 100%; }
.grids { display: flex; flex-wrap: wrap; gap: 1em; } figure.grid { margin: 0; width: 260px; }
figure.grid img { image-rendering: pixelated; width: 100%; } figcaption { font-size: 12px; } .tag { color: #777; }
</style>
</head>
<body>
<h1>${esc(o.title)}</h1>
<p>Preset <b>${esc(m.preset)}</b>. Lee et al. 2023, <i>Aligning Text-to-Image Models using Human Feedback</i>, on the sprite world.
The numbers are in <a id="metrics-link" href="metrics.json">metrics.json</a> (per-image results: <a href="details.json">details.json</a>).</p>
${sections.join('\n')}
</body>
</html>
`;
  writeFileSync(join(o.outDir, 'index.html'), html);
  return { plots, grids };
}

/** Writes the report of a folder holding metrics.json and details.json (as runEvaluation leaves it). */
export async function reportFromFolder(
  outDir: string,
  o: { title: string; gridModels?: readonly string[] },
): Promise<{ plots: string[]; grids: string[] }> {
  const read = (f: string) => {
    const path = join(outDir, f);
    if (!existsSync(path)) throw new Error(`${path} is missing (run the evaluation first)`);
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  };
  return writeReport({
    outDir,
    title: o.title,
    metrics: validateMetrics(read('metrics.json')),
    details: read('details.json') as ReportDetails,
    gridModels: o.gridModels,
  });
}

/** original and finetuned when both were evaluated, else the first two models. */
export function defaultGridModels(names: readonly string[]): string[] {
  return names.includes('original') && names.includes('finetuned')
    ? ['original', 'finetuned']
    : names.slice(0, 2);
}
