/**
 * The feedback data set (paper section "Human data collection", Table 2): images sampled from the
 * *original* model on the world's feedback prompts, stored in the run's feedback.db with their prompt,
 * category, seed and sampler settings, plus the *unlabeled* set D_model also draws on (extra samples
 * of the same model on the same prompts, scored later by the reward model; the paper used 27k labeled
 * and 16k unlabeled images).
 *
 * Every image is a pure function of (prompt text, purpose, k, base seed): its file name is the prompt's
 * slug and k ("images/feedback/two-blue-dogs-in-the-forest-03.png") and its seed is
 * hashSeed(baseSeed, purpose, text, k). So building is resumable (what is on disk and in the database
 * is skipped), and presets compose: the same prompt's k-th image is the same file in every preset.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FeedbackDb } from '../feedback/db.js';
import type { LabelValue } from '../feedback/types.js';
import {
  type FeedbackPreset,
  type FeedbackPrompt,
  type FeedbackSizes,
  feedbackPrompts,
} from '../world/feedback_prompts.js';
import type { RGBImage } from '../world/image.js';
import { encodePng, readPng } from '../world/png.js';
import type { Prompt, PromptCategory } from '../world/prompt.js';
import { hashSeed } from '../world/rng.js';

/** Unlabeled images per labeled image: the paper's 16k unlabeled over 27,528 labeled (section 4.1). */
export const UNLABELED_FRACTION = 16_000 / 27_528;

export type FeedbackPurpose = 'feedback' | 'unlabeled';

/** One image the feedback set calls for. */
export interface PlannedImage {
  purpose: FeedbackPurpose;
  text: string;
  prompt: Prompt;
  category: PromptCategory;
  /** index of this image among its prompt's images of the same purpose */
  k: number;
  seed: number;
  /** relative to the run folder */
  path: string;
}

/** "Two blue dogs in the forest." -> "two-blue-dogs-in-the-forest" */
export function promptSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * Unlabeled images per prompt: round(fraction x images) per category, spread evenly over the
 * category's prompts (prompt j gets floor((j+1) T / P) - floor(j T / P) of the category's T), so
 * the unlabeled set keeps the labeled set's category mix.
 */
export function unlabeledCounts(prompts: readonly FeedbackPrompt[], fraction = UNLABELED_FRACTION): number[] {
  if (!(fraction >= 0)) throw new Error(`unlabeled fraction must be >= 0, got ${fraction}`);
  const out = new Array<number>(prompts.length).fill(0);
  for (const category of ['count', 'color', 'background', 'combination'] as const) {
    const idx = prompts.flatMap((p, i) => (p.category === category ? [i] : []));
    const P = idx.length;
    if (P === 0) continue;
    const T = Math.round(fraction * idx.reduce((s, i) => s + prompts[i]!.images, 0));
    idx.forEach((i, j) => {
      out[i] = Math.floor(((j + 1) * T) / P) - Math.floor((j * T) / P);
    });
  }
  return out;
}

/** The images of a preset's feedback set (purpose 'feedback') and of its unlabeled set ('unlabeled'). */
export function planFeedbackSet(
  preset: FeedbackPreset | FeedbackSizes,
  o: { seed?: number; unlabeledFraction?: number } = {},
): PlannedImage[] {
  const seed = o.seed ?? 0;
  const prompts = feedbackPrompts(preset);
  const unlabeled = unlabeledCounts(prompts, o.unlabeledFraction ?? UNLABELED_FRACTION);
  const out: PlannedImage[] = [];
  const add = (p: FeedbackPrompt, purpose: FeedbackPurpose, n: number) => {
    const slug = promptSlug(p.text);
    for (let k = 0; k < n; k++) {
      out.push({
        purpose,
        text: p.text,
        prompt: p.prompt,
        category: p.category,
        k,
        seed: hashSeed(seed, purpose, p.text, k),
        path: `images/${purpose}/${slug}-${String(k).padStart(2, '0')}.png`,
      });
    }
  };
  for (const p of prompts) add(p, 'feedback', p.images);
  prompts.forEach((p, i) => {
    add(p, 'unlabeled', unlabeled[i]!);
  });
  return out;
}

/** Images per purpose and category of a plan (for --help texts and docs). */
export function planSummary(
  plan: readonly PlannedImage[],
): Record<FeedbackPurpose, Record<PromptCategory | 'total', number>> {
  const zero = () => ({ count: 0, color: 0, background: 0, combination: 0, total: 0 });
  const out = { feedback: zero(), unlabeled: zero() };
  for (const im of plan) {
    out[im.purpose][im.category]++;
    out[im.purpose].total++;
  }
  return out;
}

/** Writes a PNG through a temporary file and a rename, so a killed build never leaves half a file. */
export function writePngAtomic(path: string, img: RGBImage): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, encodePng(img));
  renameSync(tmp, path);
}

export interface BuildResult {
  planned: number;
  /** on disk and in the database before this call */
  existing: number;
  /** sampled by this call */
  generated: number;
  /** found on disk but missing from the database, registered without sampling again */
  registered: number;
  /** still to sample (a limit or a stop request ended the call early) */
  remaining: number;
}

/**
 * Samples the planned images that are not yet on disk and in the database, `batchSize` at a time;
 * each batch is written (PNG, atomically) and registered (one transaction) before the next starts.
 * `limit` caps the images sampled by this call; `shouldStop` is checked between batches.
 */
export async function buildFeedbackSet(o: {
  runDir: string;
  db: FeedbackDb;
  plan: readonly PlannedImage[];
  /** images.model of the stored images, e.g. "original" */
  modelName: string;
  /** prompts[i] with seeds[i] -> images (the original model's sampler) */
  generate: (prompts: string[], seeds: number[]) => RGBImage[];
  /** stored with every image, e.g. {sampler: "ddim", steps, guidance, eta} */
  sampler: Record<string, unknown>;
  batchSize: number;
  limit?: number;
  shouldStop?: () => boolean;
  onProgress?: (done: number, total: number) => void;
}): Promise<BuildResult> {
  const { db, plan, runDir } = o;
  const unique = new Map<string, PlannedImage>();
  for (const im of plan) if (!unique.has(im.text)) unique.set(im.text, im);
  const texts = [...unique.keys()];
  const ids = await db.insertPrompts(
    texts.map((t) => ({
      text: t,
      category: unique.get(t)!.category,
      split: 'feedback' as const,
      structured: unique.get(t)!.prompt,
    })),
  );
  const promptId = new Map(texts.map((t, i) => [t, ids[i]!]));
  const inDb = new Set<string>();
  for (const purpose of ['feedback', 'unlabeled'] as const) {
    for (const im of await db.listImages({ purpose, model: o.modelName })) inDb.add(im.path);
  }
  const toRegister: PlannedImage[] = [];
  const toSample: PlannedImage[] = [];
  let existing = 0;
  for (const im of plan) {
    const onDisk = existsSync(join(runDir, im.path));
    if (onDisk && inDb.has(im.path)) existing++;
    else if (onDisk) toRegister.push(im);
    else toSample.push(im);
  }
  const record = (ims: readonly PlannedImage[]) =>
    db.insertImages(
      ims.map((im) => ({
        promptId: promptId.get(im.text)!,
        path: im.path,
        model: o.modelName,
        seed: im.seed,
        sampler: o.sampler,
        purpose: im.purpose,
      })),
    );
  if (toRegister.length) await record(toRegister);
  const budget = Math.min(toSample.length, o.limit ?? Number.POSITIVE_INFINITY);
  let generated = 0;
  o.onProgress?.(0, budget);
  while (generated < budget) {
    // let signal handlers (Ctrl-C) run: sampling never yields to the event loop
    await new Promise<void>((r) => setImmediate(r));
    if (o.shouldStop?.()) break;
    const batch = toSample.slice(generated, Math.min(budget, generated + o.batchSize));
    const images = o.generate(
      batch.map((im) => im.text),
      batch.map((im) => im.seed),
    );
    if (images.length !== batch.length)
      throw new Error(`generate returned ${images.length} images for ${batch.length} prompts`);
    batch.forEach((im, i) => {
      writePngAtomic(join(runDir, im.path), images[i]!);
    });
    await record(batch);
    generated += batch.length;
    o.onProgress?.(generated, budget);
  }
  return {
    planned: plan.length,
    existing,
    generated,
    registered: toRegister.length,
    remaining: toSample.length - generated,
  };
}

// ---------------------------------------------------------------------------------------------
// Simulated labels

/** A simulated rater: good / bad / skip for an image and its prompt (the world's binary labeler). */
export interface SimulatedLabeler {
  /** stored as the labeler's name (labelers.name, kind 'simulated') */
  readonly name: string;
  /** `key` identifies the image (its path in the run), so a labeler's random slips are reproducible */
  label(image: RGBImage, prompt: string, key: string): LabelValue;
}

export interface SimulateResult {
  images: number;
  inserted: number;
  /** labels this labeler had already given (earlier run), left as they were */
  existing: number;
}

/**
 * Every labeler labels every image of `purpose` it has not labeled yet; labels are stored exactly as
 * human labels are (one row per image and labeler, bulk transactions of `chunk` images).
 */
export async function simulateLabels(o: {
  runDir: string;
  db: FeedbackDb;
  labelers: readonly SimulatedLabeler[];
  purpose?: string;
  chunk?: number;
  onProgress?: (done: number, total: number) => void;
}): Promise<SimulateResult> {
  const { db } = o;
  const images = await db.listImages({ purpose: o.purpose ?? 'feedback' });
  const rows = await Promise.all(
    o.labelers.map((l) => db.ensureLabeler({ name: l.name, kind: 'simulated' })),
  );
  const done = await Promise.all(
    rows.map(async (r) => new Set((await db.labelsForLabeler(r.id)).map((l) => l.imageId))),
  );
  const chunk = o.chunk ?? 500;
  let inserted = 0;
  let existing = 0;
  o.onProgress?.(0, images.length);
  for (let start = 0; start < images.length; start += chunk) {
    const part = images.slice(start, start + chunk);
    const labels: { imageId: number; labelerId: number; value: LabelValue }[] = [];
    for (const im of part) {
      const todo = o.labelers.map((_, j) => j).filter((j) => !done[j]!.has(im.id));
      existing += o.labelers.length - todo.length;
      if (todo.length === 0) continue;
      const img = readPng(join(o.runDir, im.path));
      for (const j of todo)
        labels.push({
          imageId: im.id,
          labelerId: rows[j]!.id,
          value: o.labelers[j]!.label(img, im.prompt, im.path),
        });
    }
    if (labels.length) inserted += (await db.recordLabels(labels)).inserted;
    o.onProgress?.(Math.min(start + chunk, images.length), images.length);
  }
  return { images: images.length, inserted, existing };
}
