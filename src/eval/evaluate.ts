/**
 * Evaluation of any set of models on a list of prompts (paper section "Results"; DESIGN.md,
 * "report/metrics.json"): per model, 4 images per prompt with the same seeds for every model, and
 *
 *   alignment     share of images the judge calls good, per split (seen / unseen) and category
 *   wellformed    share of images the judge can parse (the fidelity proxy)
 *   reward_mean   mean r(x, z) of the run's reward model
 *   clip_score    mean cos(e_x, e_z) of the world CLIP's L2-normalised embeddings
 *   fd            Fréchet distance between world-CLIP image embeddings of the images and of renders
 *                 of held-out corpus captions (the sprite world's FID on MS-COCO, Table 3)
 *
 * and the rater panels (panel.ts). Images, prompts, comparisons and votes go into a feedback
 * database when one is given, so the web app shows the panels.
 */
import type { FeedbackDb } from '../feedback/db.js';
import { type CLIPModel, loadCLIPModel } from '../models/clip.js';
import { loadTokenizer } from '../models/tokenizer.js';
import { embedImages, embedTexts } from '../reward/embeddings.js';
import { loadRewardFunction, rewardClipDir } from '../reward/reward_function.js';
import { pathInRun } from '../sampling/run.js';
import { noGrad, type Tensor, tidy } from '../torch/index.js';
import type { RGBImage } from '../world/image.js';
import { type Judgement, judgeImage } from '../world/judge.js';
import type { PanelOptions } from '../world/raters.js';
import { isWellFormed, verdict } from '../world/verdict.js';
import { type EvalItem, heldoutRenders, IMAGES_PER_PROMPT } from './eval_set.js';
import { frechetDistanceOfFeatures } from './frechet.js';
import type { ByCategory, ModelMetrics, PanelMetrics } from './metrics.js';
import {
  type EvalModel,
  type ModelImages,
  pipelineImages,
  readModelImages,
  sampleFolderImages,
} from './model_images.js';
import { type PanelQuery, type PanelSpec, panelSummary, runPanel, storePanel } from './panel.js';

/** A progress reporter for one piece of long work (the CLI passes its Progress class). */
export type ProgressFactory = (label: string, total: number, unit: string) => { update(done: number): void };

export interface EvaluateOptions {
  models: readonly EvalModel[];
  items: readonly EvalItem[];
  /** image k of item i has seed evalSeed(seed, i, k) */
  seed: number;
  perPrompt?: number;
  /** sampled images go to <imagesDir>/<model name>/ */
  imagesDir: string;
  /** the run's reward model (reward_mean) */
  rewardDir: string;
  /** CLIP of clip_score and fd (default: the reward model's CLIP, the world CLIP) */
  clipDir?: string;
  /** size of the FD reference set (held-out corpus renders) */
  fdImages: number;
  panels: readonly PanelSpec[];
  panelOptions?: Partial<Omit<PanelOptions, 'seed'>>;
  /** store prompts, images, comparisons and votes; image paths are stored relative to `root` */
  store?: { db: FeedbackDb; root: string } | null;
  batch: number;
  device: string;
  shouldStop?: () => boolean;
  progress?: ProgressFactory;
  log?: (line: string) => void;
}

/** Per-image results, for the report (grids, per-prompt tables). */
export interface ModelDetails {
  /** files[i][k]: image k of item i (absolute paths) */
  files: string[][];
  good: boolean[][];
  wellformed: boolean[][];
  reward: number[][];
  clip_score: number[][];
}

export interface PanelDetails {
  a: string;
  b: string;
  per_query: { prompt: string; split: string; alignment: number; fidelity: number }[];
}

export interface EvalDetails {
  items: { index: number; text: string; split: string; category: string }[];
  seed: number;
  per_prompt: number;
  fd_images: number;
  clip: string;
  reward: string;
  models: Record<string, ModelDetails>;
  panels: Record<string, PanelDetails>;
}

export interface EvaluateResult {
  models: Record<string, ModelMetrics>;
  panel: Record<string, PanelMetrics>;
  details: EvalDetails;
}

/**
 * Share of good images per split and category; images of item i are good[i]. A category (or split)
 * without items is null.
 */
export function alignmentBySplit(
  items: readonly EvalItem[],
  good: ReadonlyArray<readonly boolean[]>,
): { seen: ByCategory; unseen: ByCategory } {
  const tally = new Map<string, { good: number; n: number }>();
  items.forEach((it, i) => {
    for (const key of [`${it.split}.${it.category}`, `${it.split}.all`]) {
      const t = tally.get(key) ?? { good: 0, n: 0 };
      for (const g of good[i]!) {
        t.good += g ? 1 : 0;
        t.n++;
      }
      tally.set(key, t);
    }
  });
  const share = (key: string) => {
    const t = tally.get(key);
    return t && t.n > 0 ? t.good / t.n : null;
  };
  const split = (s: string): ByCategory => ({
    count: share(`${s}.count`),
    color: share(`${s}.color`),
    background: share(`${s}.background`),
    combination: share(`${s}.combination`),
    all: share(`${s}.all`),
  });
  return { seen: split('seen'), unseen: split('unseen') };
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const chunk = <T>(flat: readonly T[], per: number): T[][] =>
  Array.from({ length: flat.length / per }, (_, i) => flat.slice(i * per, (i + 1) * per));

/** Runs the evaluation; null when `shouldStop` interrupted the sampling (run it again to resume). */
export async function evaluateModels(o: EvaluateOptions): Promise<EvaluateResult | null> {
  const per = o.perPrompt ?? IMAGES_PER_PROMPT;
  const log = o.log ?? (() => {});
  const names = o.models.map((m) => m.name);
  if (new Set(names).size !== names.length) throw new Error(`a model is named twice: ${names.join(', ')}`);
  for (const p of o.panels) {
    for (const m of [p.a, p.b])
      if (!names.includes(m))
        throw new Error(
          `panel ${p.name} needs model "${m}", which is not evaluated (models: ${names.join(', ')})`,
        );
  }
  if (o.items.length === 0) throw new Error('no evaluation prompts');

  // 1. every model's images (sampling is the long part; it resumes from disk)
  const images: ModelImages[] = [];
  for (const m of o.models) {
    if (m.source.kind === 'samples') {
      images.push(
        sampleFolderImages({
          name: m.name,
          dir: m.source.dir,
          items: o.items,
          perPrompt: per,
          seed: o.seed,
          warn: log,
        }),
      );
      continue;
    }
    let bar: { update(done: number): void } | undefined;
    const got = await pipelineImages({
      name: m.name,
      dir: m.source.dir,
      items: o.items,
      imagesDir: o.imagesDir,
      seed: o.seed,
      perPrompt: per,
      batch: o.batch,
      device: o.device,
      shouldStop: o.shouldStop,
      ...(m.source.reuse ? { reuse: m.source.reuse } : {}),
      onProgress: (done, total) => {
        if (total === 0) return;
        bar ??= o.progress?.(`evaluate: sampling ${m.name}`, total, 'images');
        bar?.update(done);
      },
    });
    if (!got) return null;
    images.push(got);
  }

  // 2. judge, CLIP, reward and FD per model
  const reward = loadRewardFunction(o.rewardDir, { device: o.device });
  const clipDir = o.clipDir ?? rewardClipDir(o.rewardDir);
  let clip: CLIPModel | null = null;
  let refFeatures: Tensor | null = null;
  const models: Record<string, ModelMetrics> = {};
  const details: Record<string, ModelDetails> = {};
  const judged: Record<string, Judgement[][]> = {};
  try {
    clip = loadCLIPModel(clipDir, { device: o.device });
    const tokenizer = loadTokenizer(clipDir);
    const texts = o.items.flatMap((it) => new Array<string>(per).fill(it.text));
    const textEmbeds = embedTexts(clip, tokenizer, texts);
    for (const m of images) {
      const bar = o.progress?.(`evaluate: judging and scoring ${m.name}`, o.items.length, 'prompts');
      const pixels = readModelImages(m);
      const judgements = pixels.map((row, i) => {
        const js = row.map((img) => judgeImage(img));
        bar?.update(i + 1);
        return js;
      });
      judged[m.name] = judgements;
      const flat: RGBImage[] = pixels.flat();
      if (!refFeatures) {
        const size = flat[0]!.width;
        log(`evaluate: FD reference: ${o.fdImages} held-out corpus renders at ${size} px`);
        refFeatures = embedImages(clip, heldoutRenders(o.fdImages, size));
      }
      const imageEmbeds = embedImages(clip, flat);
      const clipScores = noGrad(() => tidy(() => imageEmbeds.mul(textEmbeds).sum(-1).toFloat32Array()));
      const rewards = reward.scoreImages(flat, texts);
      const fd = frechetDistanceOfFeatures(imageEmbeds, refFeatures);
      imageEmbeds.dispose();
      const good = judgements.map((row, i) =>
        row.map((j) => verdict(o.items[i]!.prompt, j).label === 'good'),
      );
      const wellformed = judgements.map((row) => row.map((j) => isWellFormed(j)));
      models[m.name] = {
        alignment: alignmentBySplit(o.items, good),
        wellformed: mean(wellformed.flat().map((w) => (w ? 1 : 0))),
        reward_mean: mean([...rewards]),
        clip_score: mean([...clipScores]),
        fd,
      };
      details[m.name] = {
        files: m.files,
        good,
        wellformed,
        reward: chunk([...rewards], per),
        clip_score: chunk([...clipScores], per),
      };
      const r = models[m.name]!;
      log(
        `evaluate: ${m.name}: aligned seen ${fmt(r.alignment.seen.all)} unseen ${fmt(r.alignment.unseen.all)}, ` +
          `well-formed ${fmt(r.wellformed)}, reward ${r.reward_mean.toFixed(3)}, CLIP ${r.clip_score.toFixed(3)}, FD ${r.fd.toFixed(4)}`,
      );
    }
    textEmbeds.dispose();
  } finally {
    refFeatures?.dispose();
    clip?.dispose();
    reward.dispose();
  }

  // 3. rater panels
  const panel: Record<string, PanelMetrics> = {};
  const panelDetails: Record<string, PanelDetails> = {};
  const queries: Record<string, PanelQuery[]> = {};
  for (const spec of o.panels) {
    const q = runPanel({
      spec,
      items: o.items,
      setsA: judged[spec.a]!,
      setsB: judged[spec.b]!,
      options: { ...o.panelOptions, seed: o.seed },
    });
    queries[spec.name] = q;
    panel[spec.name] = panelSummary(q, o.panelOptions?.raters);
    panelDetails[spec.name] = {
      a: spec.a,
      b: spec.b,
      per_query: q.map((x) => ({
        prompt: x.item.text,
        split: x.item.split,
        alignment: x.alignment.filter((c) => c === 'a').length,
        fidelity: x.fidelity.filter((c) => c === 'a').length,
      })),
    };
    log(
      `evaluate: panel ${spec.name}: ${spec.a} wins ${fmt(panel[spec.name]!.alignment.win_7plus)} of the prompts on alignment ` +
        `and ${fmt(panel[spec.name]!.fidelity.win_7plus)} on fidelity with 7+ of the votes`,
    );
  }

  if (o.store)
    await storeEvaluation(o.store, { items: o.items, images, panels: o.panels, queries, seed: o.seed, log });

  return {
    models,
    panel,
    details: {
      items: o.items.map((it) => ({
        index: it.index,
        text: it.text,
        split: it.split,
        category: it.category,
      })),
      seed: o.seed,
      per_prompt: per,
      fd_images: o.fdImages,
      clip: clipDir,
      reward: o.rewardDir,
      models: details,
      panels: panelDetails,
    },
  };
}

const fmt = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);

/**
 * Registers the evaluation prompts and images (purpose 'eval') and the panels' comparisons and votes.
 * A model whose images lie outside the database's run folder is left out, with its panels.
 */
async function storeEvaluation(
  store: { db: FeedbackDb; root: string },
  o: {
    items: readonly EvalItem[];
    images: readonly ModelImages[];
    panels: readonly PanelSpec[];
    queries: Record<string, PanelQuery[]>;
    seed: number;
    log: (line: string) => void;
  },
): Promise<void> {
  const { db, root } = store;
  const promptIds = await db.insertPrompts(
    o.items.map((it) => ({
      text: it.text,
      category: it.category,
      split: it.split === 'seen' ? ('eval_seen' as const) : ('eval_unseen' as const),
      structured: it.prompt,
    })),
  );
  const imageIds: Record<string, number[][]> = {};
  for (const m of o.images) {
    const rel = m.files.map((row) => row.map((f) => pathInRun(root, f)));
    if (rel.flat().some((p) => p === null)) {
      o.log(
        `evaluate: the images of ${m.name} lie outside ${root}; they and their panels are not stored in its database`,
      );
      continue;
    }
    const ids = await db.insertImages(
      rel.flatMap((row, i) =>
        row.map((path, k) => ({
          promptId: promptIds[i]!,
          path: path!,
          model: m.name,
          seed: m.seeds[i]![k]!,
          sampler: m.sampler,
          purpose: 'eval',
        })),
      ),
    );
    imageIds[m.name] = chunk(ids, rel[0]!.length);
  }
  for (const spec of o.panels) {
    const a = imageIds[spec.a];
    const b = imageIds[spec.b];
    if (!a || !b) continue;
    const r = await storePanel(db, {
      spec,
      queries: o.queries[spec.name]!,
      promptIds,
      idsA: a,
      idsB: b,
      seed: o.seed,
    });
    if (r.comparisons || r.votes)
      o.log(`evaluate: panel ${spec.name}: ${r.comparisons} comparisons and ${r.votes} rater votes stored`);
  }
}
