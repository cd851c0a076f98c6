/**
 * The report's plots as Vega-Lite specs, rendered to SVG in Node (vega's headless View, renderer
 * 'none': no canvas, no browser):
 *
 *   panelPlot          stacked vote histograms of a rater panel (paper Figures 4 and 6)
 *   accuracyPlot       reward model vs CLIP score, held-out accuracy per category (Figure 5)
 *   sizeAblationPlot   held-out accuracy against the share of human labels (ablation)
 *   rewardCurvePlot    reward training: loss and accuracy per epoch, train and validation
 *   finetuneCurvePlot  fine-tuning: loss per step of each fine-tuned model
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { PanelMetrics, RewardModelMetrics } from '../eval/metrics.js';
import { METRIC_CATEGORIES } from '../eval/metrics.js';

/** Renders a Vega-Lite spec to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/**
 * One panel: a bar per question, split by the number of raters (0-9) who preferred model a; the
 * paper's black box (7 or more votes) is in the subtitle.
 */
export function panelPlot(name: string, a: string, b: string, p: PanelMetrics): TopLevelSpec {
  const values = (['alignment', 'fidelity'] as const).flatMap((q) =>
    p[q].votes_hist
      .map((share, votes) => ({
        question: q === 'alignment' ? 'Image-text alignment' : 'Fidelity',
        votes,
        share,
      }))
      .filter((v) => v.share > 0),
  );
  return {
    $schema: SCHEMA,
    title: {
      text: `${a} vs ${b}`,
      subtitle: `share of prompts by votes for ${a} (of 9 raters); 7+ votes: alignment ${pct(p.alignment.win_7plus)}, fidelity ${pct(p.fidelity.win_7plus)}`,
    },
    description: `rater panel ${name}`,
    width: 460,
    height: 90,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'question', type: 'nominal', title: null, sort: ['Image-text alignment', 'Fidelity'] },
      x: {
        field: 'share',
        type: 'quantitative',
        stack: 'zero',
        title: 'share of prompts',
        axis: { format: '%' },
        scale: { domain: [0, 1] },
      },
      color: {
        field: 'votes',
        type: 'ordinal',
        title: `votes for ${a}`,
        scale: { scheme: 'redblue', domain: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
        legend: { titleLimit: 400 },
      },
      order: { field: 'votes', type: 'quantitative' },
      tooltip: [
        { field: 'votes', type: 'ordinal' },
        { field: 'share', type: 'quantitative', format: '.1%' },
      ],
    },
  };
}

/** Grouped bars: held-out accuracy per category of the reward model and of the CLIP score. */
export function accuracyPlot(rm: RewardModelMetrics): TopLevelSpec {
  const values = METRIC_CATEGORIES.flatMap((category) => [
    { category, predictor: 'reward model', accuracy: rm.accuracy[category] },
    { category, predictor: 'CLIP score', accuracy: rm.clip_score_accuracy[category] },
  ]).filter((v) => v.accuracy !== null);
  return {
    $schema: SCHEMA,
    title: { text: 'Predicting held-out human labels', subtitle: 'accuracy per category (paper Figure 5)' },
    width: 420,
    height: 220,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: {
        field: 'category',
        type: 'nominal',
        sort: [...METRIC_CATEGORIES],
        title: null,
        axis: { labelAngle: 0 },
      },
      xOffset: { field: 'predictor', type: 'nominal', sort: ['reward model', 'CLIP score'] },
      y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, axis: { format: '%' } },
      color: { field: 'predictor', type: 'nominal', sort: ['reward model', 'CLIP score'], title: null },
      tooltip: [
        { field: 'predictor' },
        { field: 'category' },
        { field: 'accuracy', type: 'quantitative', format: '.1%' },
      ],
    },
  };
}

/** Held-out accuracy of the reward model against the share of the training labels it saw. */
export function sizeAblationPlot(rm: RewardModelMetrics): TopLevelSpec {
  const values = rm.size_ablation.filter((r) => r.accuracy !== null);
  return {
    $schema: SCHEMA,
    title: { text: 'Human data size', subtitle: 'reward model trained on a share of the labels' },
    width: 360,
    height: 200,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'fraction',
        type: 'quantitative',
        title: 'share of training labels',
        axis: { format: '%' },
        scale: { domain: [0, 1] },
      },
      y: {
        field: 'accuracy',
        type: 'quantitative',
        title: 'held-out accuracy',
        axis: { format: '.1%' },
        scale: { zero: false },
      },
      tooltip: [
        { field: 'fraction', type: 'quantitative', format: '.0%' },
        { field: 'accuracy', type: 'quantitative', format: '.1%' },
      ],
    },
  };
}

/** One line of a reward model's log.jsonl (reward/train.ts EpochLog), the fields the plot reads. */
export interface RewardLogLine {
  epoch: number;
  train: { loss: number; accuracy: { all: number | null } };
  val: { loss: number; accuracy: { all: number | null } } | null;
}

/** Reward training: loss and accuracy per epoch, train and validation. */
export function rewardCurvePlot(log: readonly RewardLogLine[]): TopLevelSpec {
  const values = log.flatMap((l) =>
    (['train', 'val'] as const).flatMap((split) => {
      const m = l[split];
      if (!m) return [];
      return [
        {
          epoch: l.epoch,
          split: split === 'val' ? 'validation' : 'train',
          metric: 'loss (MSE + λ PC)',
          value: m.loss,
        },
        ...(m.accuracy.all === null
          ? []
          : [
              {
                epoch: l.epoch,
                split: split === 'val' ? 'validation' : 'train',
                metric: 'accuracy',
                value: m.accuracy.all,
              },
            ]),
      ];
    }),
  );
  return curvePanels({
    title: 'Reward model training',
    subtitle: 'per epoch (models/reward/log.jsonl)',
    values,
    x: 'epoch',
    facet: 'metric',
    facets: ['loss (MSE + λ PC)', 'accuracy'],
    color: 'split',
  });
}

/** One line of a fine-tuning log.jsonl (finetune/finetune.ts FinetuneProgress), the fields the plot reads. */
export interface FinetuneLogLine {
  step: number;
  loss: number;
  modelTerm: number;
  preTerm: number;
}

/** Fine-tuning: the objective and its D_model term per logged step, one line per model. */
export function finetuneCurvePlot(logs: Readonly<Record<string, readonly FinetuneLogLine[]>>): TopLevelSpec {
  const values = Object.entries(logs).flatMap(([model, lines]) =>
    lines.flatMap((l) => [
      { model, step: l.step, term: 'loss', value: l.loss },
      { model, step: l.step, term: 'D_model term (reward-weighted)', value: l.modelTerm },
    ]),
  );
  return curvePanels({
    title: 'Reward-weighted fine-tuning',
    subtitle: 'mean over each logging window (models/<name>/train/log.jsonl)',
    values,
    x: 'step',
    facet: 'term',
    facets: ['loss', 'D_model term (reward-weighted)'],
    color: 'model',
  });
}

/** Line charts side by side, one per value of `facet`, each with its own y scale, a line per `color`. */
function curvePanels(o: {
  title: string;
  subtitle: string;
  values: Record<string, unknown>[];
  x: string;
  facet: string;
  facets: string[];
  color: string;
}): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: { text: o.title, subtitle: o.subtitle },
    data: { values: o.values },
    facet: { column: { field: o.facet, type: 'nominal', title: null, sort: o.facets } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 260,
      height: 180,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: o.x, type: 'quantitative' },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: o.color, type: 'nominal', title: null, legend: { labelLimit: 400 } },
      },
    },
  };
}
