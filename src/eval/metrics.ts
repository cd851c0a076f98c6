/**
 * `report/metrics.json`, the contract between the evaluation and the tests and benchmarks
 * (../shared/DESIGN.md, "report/metrics.json"): its types and a validator.
 *
 *   preset        "smoke" | "quick" | "paper" | any other label ("custom" for `t2i-align evaluate`)
 *   models        per model: judged alignment per split and category, well-formed rate, mean reward,
 *                 mean CLIP score, Fréchet distance
 *   reward_model  held-out accuracy of the reward model and of the CLIP-score baseline per category
 *                 (paper Figure 5) and the human-data-size ablation
 *   panel         per comparison "<a>_vs_<b>": the 9-rater vote histogram and the share of 7+ wins
 *                 for alignment and fidelity (paper Figures 4 and 6)
 *
 * A number is `null` where there is nothing to measure: a category with no evaluation prompt in a
 * split (the 60 seen prompts of Table 4 hold no combination prompt) or no held-out label.
 */

import { CV_PROTOCOLS, type CvProtocol } from '../reward/data.js';

export const METRIC_CATEGORIES = ['count', 'color', 'background', 'combination', 'all'] as const;
export type MetricCategory = (typeof METRIC_CATEGORIES)[number];
/** A share per category; null where the category has no data. */
export type ByCategory = Record<MetricCategory, number | null>;

export interface ModelMetrics {
  /** share of evaluation images the judge calls aligned ("good"), per split and category */
  alignment: { seen: ByCategory; unseen: ByCategory };
  /** share of images the judge can parse (fidelity proxy) */
  wellformed: number;
  /** mean r(x, z) of the run's reward model over the evaluation images */
  reward_mean: number;
  /** mean cos(e_x, e_z) of world-CLIP embeddings over the evaluation images */
  clip_score: number;
  /** Fréchet distance of world-CLIP image embeddings to held-out corpus renders */
  fd: number;
}

export interface QuestionHistogram {
  /** votes_hist[k] = share of queries where k of the raters preferred <a> (length raters + 1) */
  votes_hist: number[];
  /** share of queries with 7 or more votes for <a> */
  win_7plus: number;
}

export interface PanelMetrics {
  alignment: QuestionHistogram;
  fidelity: QuestionHistogram;
}

/** Held-out accuracy under one protocol (5-fold by prompt, or by image within each prompt). */
export interface ProtocolMetrics {
  accuracy: ByCategory;
  clip_score_accuracy: ByCategory;
  /** the human-data-size ablation under this protocol */
  size_ablation?: { fraction: number; accuracy: number | null }[];
}

export interface RewardModelMetrics {
  /** the `prompts` protocol's figures (held-out prompts), as before both protocols were reported */
  accuracy: ByCategory;
  clip_score_accuracy: ByCategory;
  size_ablation: { fraction: number; accuracy: number | null }[];
  /** `images`: held-out images of training prompts (the paper's); `prompts`: held-out prompts */
  protocols?: Record<CvProtocol, ProtocolMetrics>;
}

export interface MetricsJson {
  preset: string;
  models: Record<string, ModelMetrics>;
  reward_model?: RewardModelMetrics;
  panel: Record<string, PanelMetrics>;
}

/** The models, panels and ablation fractions a full demo run reports (paper Table 3, Figures 4-6). */
export const PAPER_MODELS = [
  'original',
  'finetuned',
  'rejection16to4',
  'ft_no_pretrain',
  'ft_no_unlabeled_no_pretrain',
] as const;
export const PAPER_PANELS = [
  'finetuned_vs_original',
  'rejection16to4_vs_original',
  'finetuned_vs_rejection16to4',
] as const;
export const ABLATION_FRACTIONS = [0.1, 0.25, 0.5, 1] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks `value` against the contract and returns what is wrong (empty when it validates). With
 * `complete` (what `t2i-align demo` must write) the five models, the three panels, the reward-model
 * section and the four ablation fractions are required as well.
 */
export function metricsErrors(value: unknown, o: { complete?: boolean } = {}): string[] {
  const errors: string[] = [];
  const err = (path: string, what: string) => errors.push(`${path}: ${what}`);
  const share = (path: string, v: unknown, nullable = false): void => {
    if (v === null && nullable) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1)
      err(path, `expected a number in [0, 1]${nullable ? ' or null' : ''}, got ${JSON.stringify(v)}`);
  };
  const finite = (path: string, v: unknown, min = Number.NEGATIVE_INFINITY): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
      err(
        path,
        `expected a finite number${min > Number.NEGATIVE_INFINITY ? ` >= ${min}` : ''}, got ${JSON.stringify(v)}`,
      );
  };
  const keys = (path: string, obj: Record<string, unknown>, required: readonly string[]): void => {
    for (const k of required) if (!(k in obj)) err(path, `missing "${k}"`);
  };
  const byCategory = (path: string, v: unknown): void => {
    if (!isObject(v))
      return void err(path, 'expected an object with count, color, background, combination, all');
    keys(path, v, METRIC_CATEGORIES);
    for (const c of METRIC_CATEGORIES) if (c in v) share(`${path}.${c}`, v[c], true);
  };
  const histogram = (path: string, v: unknown): void => {
    if (!isObject(v)) return void err(path, 'expected {votes_hist, win_7plus}');
    keys(path, v, ['votes_hist', 'win_7plus']);
    const h = v['votes_hist'];
    if (!Array.isArray(h) || h.length !== 10) {
      err(`${path}.votes_hist`, `expected 10 numbers (0..9 votes of 9 raters), got ${JSON.stringify(h)}`);
      return;
    }
    h.forEach((x, k) => {
      share(`${path}.votes_hist[${k}]`, x);
    });
    const total = h.reduce((s: number, x) => s + (typeof x === 'number' ? x : 0), 0);
    if (Math.abs(total - 1) > 1e-6) err(`${path}.votes_hist`, `shares sum to ${total.toFixed(6)}, not 1`);
    share(`${path}.win_7plus`, v['win_7plus']);
    const tail = (h as number[]).slice(7).reduce((s, x) => s + x, 0);
    if (typeof v['win_7plus'] === 'number' && Math.abs(v['win_7plus'] - tail) > 1e-6)
      err(`${path}.win_7plus`, `${v['win_7plus']} is not votes_hist[7] + [8] + [9] = ${tail}`);
  };

  if (!isObject(value)) return ['metrics: expected a JSON object'];
  keys('metrics', value, ['preset', 'models', 'panel', ...(o.complete ? ['reward_model'] : [])]);
  if ('preset' in value && (typeof value['preset'] !== 'string' || value['preset'] === ''))
    err('preset', `expected a non-empty string, got ${JSON.stringify(value['preset'])}`);

  const models = value['models'];
  if (!isObject(models)) {
    if ('models' in value) err('models', 'expected an object of models');
  } else {
    if (Object.keys(models).length === 0) err('models', 'no model');
    if (o.complete) keys('models', models, PAPER_MODELS);
    for (const [name, m] of Object.entries(models)) {
      const p = `models.${name}`;
      if (!isObject(m)) {
        err(p, 'expected an object');
        continue;
      }
      keys(p, m, ['alignment', 'wellformed', 'reward_mean', 'clip_score', 'fd']);
      const a = m['alignment'];
      if (!isObject(a)) err(`${p}.alignment`, 'expected {seen, unseen}');
      else {
        keys(`${p}.alignment`, a, ['seen', 'unseen']);
        for (const s of ['seen', 'unseen'] as const) if (s in a) byCategory(`${p}.alignment.${s}`, a[s]);
      }
      share(`${p}.wellformed`, m['wellformed']);
      finite(`${p}.reward_mean`, m['reward_mean']);
      finite(`${p}.clip_score`, m['clip_score']);
      if (typeof m['clip_score'] === 'number' && Math.abs(m['clip_score']) > 1 + 1e-6)
        err(`${p}.clip_score`, `a mean cosine lies in [-1, 1], got ${m['clip_score']}`);
      // round-off can leave a distance of two identical sets a hair below zero
      finite(`${p}.fd`, m['fd'], -1e-6);
    }
  }

  const rm = value['reward_model'];
  if (rm !== undefined) {
    if (!isObject(rm)) err('reward_model', 'expected an object');
    else {
      keys('reward_model', rm, [
        'accuracy',
        'clip_score_accuracy',
        'size_ablation',
        ...(o.complete ? ['protocols'] : []),
      ]);
      if ('accuracy' in rm) byCategory('reward_model.accuracy', rm['accuracy']);
      if ('clip_score_accuracy' in rm)
        byCategory('reward_model.clip_score_accuracy', rm['clip_score_accuracy']);
      ablation('reward_model.size_ablation', rm['size_ablation'], 'size_ablation' in rm);
      const protocols = rm['protocols'];
      if (protocols !== undefined) {
        if (!isObject(protocols)) err('reward_model.protocols', 'expected {images, prompts}');
        else {
          keys('reward_model.protocols', protocols, CV_PROTOCOLS);
          for (const name of CV_PROTOCOLS) {
            const pr = protocols[name];
            const at = `reward_model.protocols.${name}`;
            if (pr === undefined) continue;
            if (!isObject(pr)) {
              err(at, 'expected {accuracy, clip_score_accuracy}');
              continue;
            }
            keys(at, pr, ['accuracy', 'clip_score_accuracy']);
            if ('accuracy' in pr) byCategory(`${at}.accuracy`, pr['accuracy']);
            if ('clip_score_accuracy' in pr)
              byCategory(`${at}.clip_score_accuracy`, pr['clip_score_accuracy']);
            if ('size_ablation' in pr) ablation(`${at}.size_ablation`, pr['size_ablation'], true);
          }
        }
      }
    }
  }

  function ablation(at: string, sa: unknown, present: boolean): void {
    if (!Array.isArray(sa)) {
      if (present) err(at, 'expected an array');
      return;
    }
    for (const [i, e] of sa.entries()) {
      const p = `${at}[${i}]`;
      if (!isObject(e)) {
        err(p, 'expected {fraction, accuracy}');
        continue;
      }
      if (typeof e['fraction'] !== 'number' || !(e['fraction'] > 0 && e['fraction'] <= 1))
        err(`${p}.fraction`, `expected a number in (0, 1], got ${JSON.stringify(e['fraction'])}`);
      share(`${p}.accuracy`, e['accuracy'], true);
    }
    if (o.complete) {
      const fr = sa.map((e) => (isObject(e) ? e['fraction'] : null));
      for (const f of ABLATION_FRACTIONS) if (!fr.includes(f)) err(at, `no entry for fraction ${f}`);
    }
  }

  const panel = value['panel'];
  if (!isObject(panel)) {
    if ('panel' in value) err('panel', 'expected an object of panels');
  } else {
    if (o.complete) keys('panel', panel, PAPER_PANELS);
    for (const [name, p] of Object.entries(panel)) {
      if (!/^.+_vs_.+$/.test(name)) err(`panel.${name}`, 'panel names are "<a>_vs_<b>"');
      if (!isObject(p)) {
        err(`panel.${name}`, 'expected {alignment, fidelity}');
        continue;
      }
      keys(`panel.${name}`, p, ['alignment', 'fidelity']);
      for (const q of ['alignment', 'fidelity'] as const) if (q in p) histogram(`panel.${name}.${q}`, p[q]);
    }
  }
  return errors;
}

/** Throws an Error listing every problem when `value` does not validate; returns it typed otherwise. */
export function validateMetrics(value: unknown, o: { complete?: boolean } = {}): MetricsJson {
  const errors = metricsErrors(value, o);
  if (errors.length) throw new Error(`metrics.json does not follow the contract:\n  ${errors.join('\n  ')}`);
  return value as MetricsJson;
}

/** A number for metrics.json: NaN (nothing measured) becomes null. */
export function orNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** A per-category record with NaN turned into null. */
export function byCategory(r: Record<MetricCategory, number>): ByCategory {
  return {
    count: orNull(r.count),
    color: orNull(r.color),
    background: orNull(r.background),
    combination: orNull(r.combination),
    all: orNull(r.all),
  };
}
