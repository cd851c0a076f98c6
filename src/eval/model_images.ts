/**
 * The evaluation images of one model: 4 per prompt (eval_set.ts fixes their seeds).
 *
 *  - A text-to-image checkpoint is sampled into `<images>/<model>/`: `<prompt index>-<k>.png`, an
 *    `eval.json` stamp (model folder and fingerprint, seed, sampler, prompts) and, once complete, a
 *    `manifest.jsonl` as `t2i-align generate` writes it. Sampling is resumable: prompts whose images
 *    are all on disk are skipped. A folder stamped by another model, seed or prompt list is refused
 *    (its images may already sit in the database's panel comparisons).
 *  - A rejection-sampling folder (`t2i-align sample`: manifest.jsonl with prompt_index and rank) is
 *    read as it is: its kept images are the model's set for each prompt.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../models/checkpoint.js';
import { tensorToImages } from '../models/images.js';
import { loadPipeline } from '../models/t2i_checkpoint.js';
import { clipFingerprint } from '../reward/embeddings.js';
import { writePngAtomic } from '../sampling/feedback_set.js';
import { promptImageName } from '../sampling/rejection.js';
import type { RGBImage } from '../world/image.js';
import { readPng } from '../world/png.js';
import { type EvalItem, evalSeed, REJECTION_CANDIDATES } from './eval_set.js';

/** Where a model's evaluation images come from. */
export type ModelSource =
  /** `reuse`: a samples folder whose first candidates are this model's images (see pipelineImages) */
  { kind: 'pipeline'; dir: string; reuse?: string } | { kind: 'samples'; dir: string };

export interface EvalModel {
  /** e.g. original, finetuned, rejection16to4 (names the images in the database and the report) */
  name: string;
  source: ModelSource;
}

/** A model's evaluation images: `files[i][k]` is image k of item i (absolute paths). */
export interface ModelImages {
  name: string;
  files: string[][];
  seeds: number[][];
  /** sampler settings stored with the images in the database */
  sampler: Record<string, unknown> | null;
}

/** A problem the user can fix: a stale image folder, an incomplete samples folder. */
export class EvalInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvalInputError';
  }
}

interface Stamp {
  model: string;
  fingerprint: string;
  seed: number;
  per_prompt: number;
  sampler: Record<string, unknown>;
  prompts: string[];
}

/**
 * Samples (or finds on disk) `perPrompt` images per item from a text-to-image checkpoint into
 * `<imagesDir>/<name>/`, `batch` images at a time; `shouldStop` is checked between batches.
 */
export async function pipelineImages(o: {
  name: string;
  dir: string;
  items: readonly EvalItem[];
  imagesDir: string;
  seed: number;
  perPrompt: number;
  batch: number;
  device: string;
  shouldStop?: () => boolean;
  onProgress?: (done: number, total: number) => void;
  /**
   * A rejection-sampling folder (`t2i-align sample --write-first n`) of the same model, seed and
   * sampler: its first candidates are these images (same seeds), so they are copied, not sampled.
   */
  reuse?: string;
}): Promise<ModelImages | null> {
  const out = join(o.imagesDir, o.name);
  const files = o.items.map((it) =>
    Array.from({ length: o.perPrompt }, (_, k) => join(out, promptImageName(it.index, k))),
  );
  const seeds = o.items.map((it) =>
    Array.from({ length: o.perPrompt }, (_, k) => evalSeed(o.seed, it.index, k)),
  );
  const stampPath = join(out, 'eval.json');
  const fingerprint = clipFingerprint(o.dir);
  const prev = existsSync(stampPath) ? (JSON.parse(readFileSync(stampPath, 'utf8')) as Stamp) : null;
  const todo = o.items.map((_, i) => i).filter((i) => !files[i]!.every((f) => existsSync(f)));
  if (
    prev &&
    todo.length === 0 &&
    sameStamp(prev, { fingerprint, seed: o.seed, perPrompt: o.perPrompt, items: o.items })
  )
    return { name: o.name, files, seeds, sampler: prev.sampler };
  const loaded = loadPipeline(o.dir, { device: o.device });
  try {
    const sampler = { sampler: 'ddim', ...loaded.config.sampler };
    const stamp: Stamp = {
      model: resolve(o.dir),
      fingerprint,
      seed: o.seed,
      per_prompt: o.perPrompt,
      sampler,
      prompts: o.items.map((it) => it.text),
    };
    const stale =
      prev &&
      (!sameStamp(prev, { fingerprint, seed: o.seed, perPrompt: o.perPrompt, items: o.items }) ||
        JSON.stringify(prev.sampler) !== JSON.stringify(sampler));
    if (prev && stale) {
      throw new EvalInputError(
        `${out} holds evaluation images of another model, seed or prompt list (${prev.model}, seed ${prev.seed}, ${prev.prompts.length} prompts); ` +
          'evaluate into another folder (a new run or --images), since the database may already compare those images',
      );
    }
    mkdirSync(out, { recursive: true });
    writeFileAtomic(stampPath, `${JSON.stringify(stamp, null, 2)}\n`);
    const reuse = o.reuse ? reusableFirst(o.reuse, o.dir, o.seed, loaded.config.sampler) : 0;
    const jobs = todo
      .flatMap((i) =>
        files[i]!.map((file, k) => ({ file, text: o.items[i]!.text, seed: seeds[i]![k]!, i, k })),
      )
      .filter((j) => {
        if (existsSync(j.file)) return false;
        if (j.k >= reuse) return true;
        const src = join(o.reuse!, 'first', promptImageName(o.items[j.i]!.index, j.k));
        if (!existsSync(src)) return true;
        copyFileSync(src, j.file);
        return false;
      });
    o.onProgress?.(0, jobs.length);
    for (let start = 0; start < jobs.length; start += o.batch) {
      // let signal handlers (Ctrl-C) run: sampling never yields to the event loop
      await new Promise<void>((r) => setImmediate(r));
      if (o.shouldStop?.()) return null;
      const part = jobs.slice(start, start + o.batch);
      const t = loaded.pipeline.generate(
        part.map((j) => j.text),
        { seeds: part.map((j) => j.seed), batchSize: o.batch, ...loaded.config.sampler },
      );
      const images = tensorToImages(t);
      t.dispose();
      part.forEach((j, n) => {
        writePngAtomic(j.file, images[n]!);
      });
      o.onProgress?.(start + part.length, jobs.length);
    }
    const manifest = o.items.flatMap((it, i) =>
      files[i]!.map((_, k) =>
        JSON.stringify({
          file: promptImageName(it.index, k),
          prompt: it.text,
          prompt_index: it.index,
          k,
          seed: seeds[i]![k],
          ...sampler,
          model: o.dir,
        }),
      ),
    );
    writeFileSync(join(out, 'manifest.jsonl'), `${manifest.join('\n')}\n`);
    return { name: o.name, files, seeds, sampler };
  } finally {
    loaded.unet.dispose();
    loaded.textEncoder.model.dispose();
  }
}

/** How many first candidates of a samples folder are this model's evaluation images (0: none). */
function reusableFirst(dir: string, model: string, seed: number, sampler: object): number {
  const path = join(dir, 'sample.json');
  if (!existsSync(path)) return 0;
  const s = JSON.parse(readFileSync(path, 'utf8')) as {
    model?: string;
    seed?: number;
    candidates?: number;
    sampler?: Record<string, unknown>;
    write_first?: number;
  };
  const same =
    s.model !== undefined &&
    resolve(s.model) === resolve(model) &&
    s.seed === seed &&
    s.candidates === REJECTION_CANDIDATES &&
    JSON.stringify(s.sampler) === JSON.stringify(sampler);
  return same ? (s.write_first ?? 0) : 0;
}

function sameStamp(
  s: Stamp,
  o: { fingerprint: string; seed: number; perPrompt: number; items: readonly EvalItem[] },
): boolean {
  return (
    s.fingerprint === o.fingerprint &&
    s.seed === o.seed &&
    s.per_prompt === o.perPrompt &&
    JSON.stringify(s.prompts) === JSON.stringify(o.items.map((it) => it.text))
  );
}

interface SampleLine {
  file: string;
  prompt: string;
  prompt_index: number;
  rank: number;
  seed: number;
}

/**
 * The kept images of a rejection-sampling folder for the items (`perPrompt` of them per prompt, best
 * first). The folder must have been sampled on the same prompt list; `seed` is checked against its
 * sample.json so that its candidates 0..3 are the evaluation seeds (a mismatch is only reported).
 */
export function sampleFolderImages(o: {
  name: string;
  dir: string;
  items: readonly EvalItem[];
  perPrompt: number;
  seed: number;
  warn?: (message: string) => void;
}): ModelImages {
  const manifestPath = join(o.dir, 'manifest.jsonl');
  if (!existsSync(manifestPath))
    throw new EvalInputError(`${o.dir}: no manifest.jsonl (run \`t2i-align sample\` into it first)`);
  const settingsPath = join(o.dir, 'sample.json');
  const settings = existsSync(settingsPath)
    ? (JSON.parse(readFileSync(settingsPath, 'utf8')) as {
        seed?: number;
        candidates?: number;
        sampler?: Record<string, unknown>;
      })
    : {};
  if (settings.seed !== o.seed || settings.candidates !== REJECTION_CANDIDATES)
    o.warn?.(
      `${o.dir} was sampled with seed ${settings.seed} and ${settings.candidates} candidates; its first 4 candidates are not the evaluation seeds (seed ${o.seed}, 16 candidates)`,
    );
  const byKey = new Map<string, SampleLine>();
  for (const line of readFileSync(manifestPath, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const m = JSON.parse(line) as SampleLine;
    byKey.set(`${m.prompt_index}/${m.rank}`, m);
  }
  const files: string[][] = [];
  const seeds: number[][] = [];
  for (const it of o.items) {
    const row: string[] = [];
    const rowSeeds: number[] = [];
    for (let k = 0; k < o.perPrompt; k++) {
      const m = byKey.get(`${it.index}/${k}`);
      if (!m || m.prompt !== it.text)
        throw new EvalInputError(
          `${o.dir}: no image of rank ${k} for prompt ${it.index} "${it.text}" (sample the same prompt list with --keep ${o.perPrompt}, or finish the sampling)`,
        );
      row.push(join(o.dir, m.file));
      rowSeeds.push(m.seed);
    }
    files.push(row);
    seeds.push(rowSeeds);
  }
  return { name: o.name, files, seeds, sampler: settings.sampler ?? null };
}

/** Reads a model's images, item by item: images[i][k]. */
export function readModelImages(m: ModelImages): RGBImage[][] {
  return m.files.map((row) => row.map((f) => readPng(f)));
}
