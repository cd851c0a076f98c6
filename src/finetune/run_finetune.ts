/**
 * Reward-weighted fine-tuning on a run folder: D_model from feedback.db (the labeled feedback images
 * and, unless turned off, the unlabeled set, weighted by the reward model's scores or by the human
 * labels), D_pre from the sprite world's pretraining corpus, the original model from its checkpoint.
 * Writes runs/<name>/models/<model>/ as a text-to-image checkpoint folder like the original's (same
 * scheduler, sampler settings and text encoder folder), with the training state under train/.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FeedbackDb } from '../feedback/db.js';
import { writeFileAtomic } from '../models/checkpoint.js';
import type { PairSource } from '../models/diffusion_train.js';
import { loadPipeline, readPipelineConfig, savePipeline, textEncoderDir } from '../models/t2i_checkpoint.js';
import { examplesFromLabels } from '../reward/data.js';
import { scoreRunImages } from '../reward/run_reward.js';
import { readRunConfig, runModelDir, updateRunConfig } from '../sampling/run.js';
import { type CaptionNoise, corpusBatch, DEFAULT_CORPUS } from '../world/corpus.js';
import type { RGBImage } from '../world/image.js';
import { readPng } from '../world/png.js';
import {
  type FinetuneConfig,
  FinetuneError,
  type FinetuneProgress,
  finetune,
  finetuneConfig,
  type ModelSampleSource,
} from './finetune.js';

/** One image of D_model with its weight. */
export interface ModelRecord {
  imageId: number;
  /** relative to the run folder */
  path: string;
  prompt: string;
  /** reward (or averaged label), before clipping to [0, 1] */
  weight: number;
  source: 'labeled' | 'unlabeled';
}

/**
 * D_model of a run. Labeled images: every 'feedback' image, weighted by its reward under `rewardName`
 * ('reward'), or the feedback images holding a non-skip label, weighted by their averaged label
 * ('human'). Unlabeled images ('unlabeled'), when used, always weigh their reward. Images that need a
 * reward and have none are listed in `missingRewards`.
 */
export async function buildModelData(
  db: FeedbackDb,
  o: { rewardName: string; useUnlabeled: boolean; weights: 'reward' | 'human' },
): Promise<{ records: ModelRecord[]; missingRewards: number[] }> {
  const rewards = new Map((await db.rewardsFor(o.rewardName)).map((r) => [r.imageId, r.value]));
  const records: ModelRecord[] = [];
  const missing: number[] = [];
  const feedback = await db.listImages({ purpose: 'feedback' });
  if (o.weights === 'human') {
    const y = new Map(
      examplesFromLabels(await db.listLabels({ purpose: 'feedback' })).map((e) => [e.imageId, e.y]),
    );
    for (const im of feedback) {
      const v = y.get(im.id);
      if (v !== undefined && v !== null)
        records.push({ imageId: im.id, path: im.path, prompt: im.prompt, weight: v, source: 'labeled' });
    }
  } else {
    for (const im of feedback) {
      const r = rewards.get(im.id);
      if (r === undefined) missing.push(im.id);
      else records.push({ imageId: im.id, path: im.path, prompt: im.prompt, weight: r, source: 'labeled' });
    }
  }
  if (o.useUnlabeled) {
    for (const im of await db.listImages({ purpose: 'unlabeled' })) {
      const r = rewards.get(im.id);
      if (r === undefined) missing.push(im.id);
      else records.push({ imageId: im.id, path: im.path, prompt: im.prompt, weight: r, source: 'unlabeled' });
    }
  }
  return { records, missingRewards: missing };
}

/** D_model read from the run's PNGs on demand. */
export class RunModelSource implements ModelSampleSource {
  constructor(
    readonly runDir: string,
    readonly records: readonly ModelRecord[],
  ) {}
  get size(): number {
    return this.records.length;
  }
  get(indices: readonly number[]): { images: RGBImage[]; prompts: string[]; weights: number[] } {
    const rs = indices.map((i) => this.records[i]!);
    return {
      images: rs.map((r) => readPng(join(this.runDir, r.path))),
      prompts: rs.map((r) => r.prompt),
      weights: rs.map((r) => r.weight),
    };
  }
}

/**
 * The sprite world's pretraining corpus as D_pre pairs (images at `size` px), with the pretraining
 * run's seed and caption noise (default: the corpus's own).
 */
export function worldCorpusPairs(o: { size: number; seed?: number; noise?: CaptionNoise }): PairSource {
  const corpus = {
    ...DEFAULT_CORPUS,
    seed: o.seed ?? DEFAULT_CORPUS.seed,
    size: o.size,
    noise: o.noise ?? DEFAULT_CORPUS.noise,
  };
  return {
    batch(index: number, size: number) {
      const items = corpusBatch(corpus, index * size, size);
      return { images: items.map((i) => i.image), captions: items.map((i) => i.caption) };
    },
  };
}

/** The original model a run's feedback set was sampled from (run config.json "feedback.model"). */
export function runBaseModel(runDir: string): string | undefined {
  const fb = readRunConfig(runDir)['feedback'] as { model?: unknown } | undefined;
  return typeof fb?.model === 'string' ? fb.model : undefined;
}

/** The text-encoder (CLIP) folder of a run's original model; undefined when none is recorded or readable. */
export function runBaseTextEncoder(runDir: string): string | undefined {
  const base = runBaseModel(runDir);
  if (!base) return undefined;
  try {
    return textEncoderDir(base, readPipelineConfig(base));
  } catch {
    return undefined;
  }
}

interface DataFile {
  reward_model: string;
  use_unlabeled: boolean;
  weights: 'reward' | 'human';
  records: ModelRecord[];
}

export interface FinetuneRunResult {
  outDir: string;
  step: number;
  done: boolean;
  data: { labeled: number; unlabeled: number; weightMean: number };
}

/**
 * Fine-tunes `baseDir` on the run's D_model (and D_pre unless beta = 0) into models/<name>/.
 * D_model is fixed at the first sitting (models/<name>/train/data.json) so a resumed run trains on
 * exactly the same data; rewards missing from the database are scored first with `rewardDir`.
 */
export async function finetuneOnRun(o: {
  runDir: string;
  db: FeedbackDb;
  name: string;
  baseDir: string;
  rewardDir: string;
  rewardName: string;
  config?: Partial<FinetuneConfig>;
  /** D_pre; default: the world corpus at the model's image size */
  pre?: PairSource | null;
  onProgress?: (p: FinetuneProgress) => void;
  onScoreProgress?: (done: number, total: number) => void;
  shouldStop?: () => boolean;
  maxStepsThisCall?: number;
}): Promise<FinetuneRunResult> {
  const c = finetuneConfig(o.config);
  const outDir = runModelDir(o.runDir, o.name);
  const workDir = join(outDir, 'train');
  const dataPath = join(workDir, 'data.json');
  let data: DataFile;
  if (existsSync(dataPath)) {
    data = JSON.parse(readFileSync(dataPath, 'utf8')) as DataFile;
    if (
      data.use_unlabeled !== c.useUnlabeled ||
      data.weights !== c.weights ||
      data.reward_model !== o.rewardName
    ) {
      throw new FinetuneError(
        `${workDir}: was started with ${data.weights} weights, reward model ${data.reward_model}, ` +
          `${data.use_unlabeled ? 'with' : 'without'} unlabeled data; use another name or delete the folder`,
      );
    }
  } else {
    const opts = { rewardName: o.rewardName, useUnlabeled: c.useUnlabeled, weights: c.weights };
    let built = await buildModelData(o.db, opts);
    if (built.missingRewards.length) {
      if (!existsSync(join(o.rewardDir, 'config.json'))) {
        throw new FinetuneError(
          `${built.missingRewards.length} D_model images have no reward "${o.rewardName}" and there is no reward model at ${o.rewardDir} (run \`t2i-align reward train\` first)`,
        );
      }
      await scoreRunImages({
        runDir: o.runDir,
        db: o.db,
        rewardDir: o.rewardDir,
        rewardName: o.rewardName,
        purposes: c.useUnlabeled ? ['feedback', 'unlabeled'] : ['feedback'],
        device: c.device,
        onProgress: o.onScoreProgress,
      });
      built = await buildModelData(o.db, opts);
      if (built.missingRewards.length)
        throw new Error(`${built.missingRewards.length} D_model images still have no reward after scoring`);
    }
    if (built.records.length === 0)
      throw new FinetuneError(`${o.runDir}: D_model is empty (build and label the feedback set first)`);
    data = {
      reward_model: o.rewardName,
      use_unlabeled: c.useUnlabeled,
      weights: c.weights,
      records: built.records,
    };
    mkdirSync(workDir, { recursive: true });
    writeFileAtomic(dataPath, JSON.stringify(data));
  }
  const base = loadPipeline(o.baseDir, { device: c.device });
  // D_pre is the corpus the original was pretrained on: its seed and caption noise, as its config records
  const trained = base.config['trained'] as { seed?: number; caption_noise?: CaptionNoise } | undefined;
  const pre =
    c.beta > 0
      ? (o.pre ??
        worldCorpusPairs({
          size: base.config.unet.sample_size,
          seed: trained?.seed,
          noise: trained?.caption_noise,
        }))
      : null;
  const summary = {
    labeled: data.records.filter((r) => r.source === 'labeled').length,
    unlabeled: data.records.filter((r) => r.source === 'unlabeled').length,
    weightMean:
      data.records.reduce((s, r) => s + Math.min(1, Math.max(0, r.weight)), 0) / data.records.length,
  };
  try {
    const result = await finetune({
      workDir,
      init: base.unet,
      schedulerConfig: base.config.scheduler,
      textEncoder: base.textEncoder,
      model: new RunModelSource(o.runDir, data.records),
      pre,
      config: c,
      onProgress: o.onProgress,
      shouldStop: o.shouldStop,
      maxStepsThisCall: o.maxStepsThisCall,
    });
    try {
      if (result.done) {
        savePipeline(outDir, {
          unet: result.unet,
          scheduler: base.config.scheduler,
          textEncoderDir: base.textEncoderDir,
          sampler: base.config.sampler,
          dtype: 'float32',
          extra: {
            finetuned: {
              from: resolve(o.baseDir),
              reward_model: o.rewardName,
              steps: result.step,
              config: c,
              data: summary,
              paper: 'Lee et al. 2023, reward-weighted likelihood maximisation',
            },
          },
        });
      }
    } finally {
      result.unet.dispose();
    }
    const all = (readRunConfig(o.runDir)['finetune'] as Record<string, unknown> | undefined) ?? {};
    updateRunConfig(o.runDir, 'finetune', {
      ...all,
      [o.name]: {
        base: o.baseDir,
        reward: o.rewardDir,
        reward_model: o.rewardName,
        config: c,
        data: summary,
        step: result.step,
        done: result.done,
      },
    });
    return { outDir, step: result.step, done: result.done, data: summary };
  } finally {
    base.unet.dispose();
    base.textEncoder.model.dispose();
  }
}
