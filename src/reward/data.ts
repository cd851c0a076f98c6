/**
 * The reward model's labeled set D^human: one example per labeled image, with its labels combined
 * (see config.ts: several labelers' non-skip labels are averaged into y), a train / validation split
 * by prompt, and seeded subsets for the human-data-size ablation (paper section "Ablation studies").
 */
import type { Category, LabelInfo } from '../feedback/types.js';
import { CATEGORIES } from '../feedback/types.js';
import { hashSeed, Rng } from '../world/rng.js';

export interface RewardExample {
  imageId: number;
  /** relative to the run folder */
  imagePath: string;
  prompt: string;
  category: Category;
  /** mean of the non-skip labels (good = 1, bad = 0); null when every label was skip */
  y: number | null;
  /** each non-skip label (1 good, 0 bad): accuracy is measured per label, as "predicting human labels" */
  labels: number[];
}

/** Groups labels by image (ordered by image id) and averages each image's non-skip labels. */
export function examplesFromLabels(labels: readonly LabelInfo[]): RewardExample[] {
  const byImage = new Map<number, RewardExample>();
  for (const l of labels) {
    let ex = byImage.get(l.imageId);
    if (!ex) {
      ex = {
        imageId: l.imageId,
        imagePath: l.imagePath,
        prompt: l.prompt,
        category: l.category,
        y: null,
        labels: [],
      };
      byImage.set(l.imageId, ex);
    }
    if (l.value !== 'skip') ex.labels.push(l.value === 'good' ? 1 : 0);
  }
  const out = [...byImage.values()].sort((a, b) => a.imageId - b.imageId);
  for (const ex of out)
    ex.y = ex.labels.length ? ex.labels.reduce((s, v) => s + v, 0) / ex.labels.length : null;
  return out;
}

/**
 * Train / validation split by prompt, stratified by category: each category's distinct prompts are
 * shuffled with `seed` and round(valFraction x count) of them (at least one when the category has two
 * or more prompts and valFraction > 0) go to validation with all their images.
 */
export function splitByPrompt(
  examples: readonly RewardExample[],
  valFraction: number,
  seed: number,
): { train: RewardExample[]; val: RewardExample[]; valPrompts: Set<string> } {
  const valPrompts = new Set<string>();
  for (const category of CATEGORIES) {
    const prompts = [...new Set(examples.filter((e) => e.category === category).map((e) => e.prompt))].sort();
    if (prompts.length === 0) continue;
    new Rng(hashSeed(seed, 'split', category)).shuffle(prompts);
    let n = Math.round(valFraction * prompts.length);
    if (n === 0 && valFraction > 0 && prompts.length >= 2) n = 1;
    for (const p of prompts.slice(0, n)) valPrompts.add(p);
  }
  return {
    train: examples.filter((e) => !valPrompts.has(e.prompt)),
    val: examples.filter((e) => valPrompts.has(e.prompt)),
    valPrompts,
  };
}

/**
 * K-fold assignment by prompt, stratified by category: each category's distinct prompts are shuffled
 * with `seed` (the shuffle splitByPrompt uses) and cut into k nearly equal runs; prompt -> fold in
 * [0, k). Every prompt is held out in exactly one fold, so cross-validation predicts every label once
 * from a model that never saw its prompt.
 */
export function promptFolds(
  examples: readonly RewardExample[],
  k: number,
  seed: number,
): Map<string, number> {
  if (!(Number.isInteger(k) && k >= 2)) throw new Error(`folds must be an integer >= 2, got ${k}`);
  const fold = new Map<string, number>();
  for (const category of CATEGORIES) {
    const prompts = [...new Set(examples.filter((e) => e.category === category).map((e) => e.prompt))].sort();
    new Rng(hashSeed(seed, 'split', category)).shuffle(prompts);
    prompts.forEach((p, i) => {
      fold.set(p, Math.floor((i * k) / prompts.length));
    });
  }
  return fold;
}

/**
 * The two held-out protocols of the reward model (DESIGN.md, "Reward evaluation protocols"):
 *  - `prompts`: folds by prompt, a label is predicted by a model that never saw its prompt;
 *  - `images`: folds by image within each prompt, the paper's "unseen images of seen prompts" (a
 *    prompt with a single image, such as the quick preset's combination prompts, is unseen either way).
 */
export const CV_PROTOCOLS = ['prompts', 'images'] as const;
export type CvProtocol = (typeof CV_PROTOCOLS)[number];

/**
 * K-fold assignment by image within each prompt: each prompt's images (by id) are shuffled with
 * `seed` and dealt to the folds from a seeded starting fold, so every fold holds about 1/k of every
 * prompt's images; imageId -> fold in [0, k).
 */
export function imageFolds(examples: readonly RewardExample[], k: number, seed: number): Map<number, number> {
  if (!(Number.isInteger(k) && k >= 2)) throw new Error(`folds must be an integer >= 2, got ${k}`);
  const byPrompt = new Map<string, number[]>();
  for (const e of examples) {
    const ids = byPrompt.get(e.prompt);
    if (ids) ids.push(e.imageId);
    else byPrompt.set(e.prompt, [e.imageId]);
  }
  const fold = new Map<number, number>();
  for (const prompt of [...byPrompt.keys()].sort()) {
    const rng = new Rng(hashSeed(seed, 'image-folds', prompt));
    const ids = rng.shuffle([...byPrompt.get(prompt)!].sort((a, b) => a - b));
    const start = Math.floor(rng.float() * k);
    ids.forEach((id, i) => {
      fold.set(id, (start + i) % k);
    });
  }
  return fold;
}

/**
 * A seeded subset holding `fraction` of the examples (at least one), drawn per category so the mix is
 * kept: the human-data-size ablation trains on 10 / 25 / 50 / 100 % of the training labels.
 */
export function subsampleExamples(
  examples: readonly RewardExample[],
  fraction: number,
  seed: number,
): RewardExample[] {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`fraction must be in (0, 1], got ${fraction}`);
  if (fraction === 1) return [...examples];
  const keep = new Set<number>();
  for (const category of CATEGORIES) {
    const ids = examples.filter((e) => e.category === category).map((e) => e.imageId);
    if (ids.length === 0) continue;
    new Rng(hashSeed(seed, 'subsample', category)).shuffle(ids);
    for (const id of ids.slice(0, Math.max(1, Math.round(fraction * ids.length)))) keep.add(id);
  }
  return examples.filter((e) => keep.has(e.imageId));
}
