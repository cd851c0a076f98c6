/**
 * Reward-weighted fine-tuning of the text-to-image model (paper section "Updating the
 * text-to-image model"; the loss is in reward_weighted_loss.ts): starts from the original model's
 * UNet, keeps the text encoder frozen, and minimises
 *
 *   mean_i( w_i l(x_i, z_i) ) + beta mean_j( l(x_j, z_j) ),   (x_i, z_i, w_i) ~ D_model, (x_j, z_j) ~ D_pre
 *
 * with AdamW, gradient clipping and an EMA of the weights (the shipped weights), like pretraining
 * (models/diffusion_train.ts, whose shape this loop copies).
 *
 * Reproducible and resumable: the D_model batch of step k is a slice of seeded per-epoch
 * permutations, the D_pre batch is corpus batch PRE_BATCH_OFFSET + k, caption dropout and the
 * noise come from hashSeed(seed, ..., k); the work folder keeps the weights, the EMA, the optimizer
 * state and the step, written atomically, so an interrupted run continues exactly where it stopped.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PairSource } from '../models/diffusion_train.js';
import { imagesToTensor } from '../models/images.js';
import type { TextEncoder } from '../models/pipeline.js';
import { DDPMScheduler, type SchedulerConfig } from '../models/scheduler_ddpm.js';
import { UNet2DConditionModel, type UNetConfig } from '../models/unet.js';
import {
  Generator,
  loadSafetensors,
  noGrad,
  optim,
  saveSafetensors,
  type Tensor,
  tensor,
  tidy,
} from '../torch/index.js';
import type { RGBImage } from '../world/image.js';
import { hashSeed, Rng } from '../world/rng.js';
import { rewardWeightedLoss } from './reward_weighted_loss.js';

/**
 * Settings of reward-weighted fine-tuning.
 *
 *  - `steps` 600, `batchModel` 32 D_model images + `batchPre` 32 D_pre pairs per step: one step is one
 *    UNet pass over 64 images, about 0.55 s on the 2-core machine with the world UNet (DESIGN.md,
 *    "Compute budget"), so the default run takes about 6 minutes and sees each of the quick preset's
 *    ~3,600 D_model images about five times.
 *  - `lr` 1e-4 (a fifth of pretraining's 5e-4: fine-tuning should move the model, not retrain it),
 *    `warmupSteps` 50, `weightDecay` 0.01, `maxGradNorm` 1 (as pretraining).
 *  - `emaDecay` 0.99: the saved weights are an EMA with a horizon of ~100 steps, short enough for a
 *    600-step run (pretraining's 0.999 would keep the original weights for most of it); 0 saves the
 *    raw weights.
 *  - `beta` 1: the D_pre term weighs as much as a D_model image of reward 1 (paper: beta > 0 keeps
 *    fidelity, Table 3); 0 turns it off (and skips the D_pre batch).
 *  - `useUnlabeled` true: D_model = labeled images + the unlabeled set scored by the reward model.
 *  - `weights` 'reward': labeled images weigh their reward r(x, z); 'human' uses the averaged human
 *    label instead (images whose labels are all skip are left out). Rewards are clipped to [0, 1], the
 *    labels' range, so no sample gets a negative weight (which would turn likelihood maximisation
 *    into minimisation).
 *  - `uncondProb` 0.1: prompts replaced by "" as in pretraining, so the unconditional prediction that
 *    classifier-free guidance needs keeps being trained.
 */
export interface FinetuneConfig {
  steps: number;
  batchModel: number;
  batchPre: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  maxGradNorm: number;
  emaDecay: number;
  beta: number;
  useUnlabeled: boolean;
  weights: 'reward' | 'human';
  uncondProb: number;
  seed: number;
  logEvery: number;
  saveEvery: number;
  device: string;
}

export const DEFAULT_FINETUNE_CONFIG: Readonly<FinetuneConfig> = {
  steps: 600,
  batchModel: 32,
  batchPre: 32,
  lr: 1e-4,
  warmupSteps: 50,
  weightDecay: 0.01,
  maxGradNorm: 1,
  emaDecay: 0.99,
  beta: 1,
  useUnlabeled: true,
  weights: 'reward',
  uncondProb: 0.1,
  seed: 0,
  logEvery: 25,
  saveEvery: 100,
  device: 'cpu',
};

/** A full config from a partial one; bad fields are errors that name them. */
export function finetuneConfig(partial: Partial<FinetuneConfig> = {}): FinetuneConfig {
  const c = { ...DEFAULT_FINETUNE_CONFIG, ...partial };
  for (const k of ['steps', 'batchModel', 'logEvery', 'saveEvery'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`finetune config: ${k} must be a positive integer, got ${c[k]}`);
  }
  for (const k of ['batchPre', 'warmupSteps', 'seed'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0)
      throw new Error(`finetune config: ${k} must be a non-negative integer, got ${c[k]}`);
  }
  for (const k of ['beta', 'weightDecay', 'maxGradNorm'] as const) {
    if (!(Number.isFinite(c[k]) && c[k] >= 0))
      throw new Error(`finetune config: ${k} must be a number >= 0, got ${c[k]}`);
  }
  if (!(c.lr > 0)) throw new Error(`finetune config: lr must be > 0, got ${c.lr}`);
  if (!(c.emaDecay >= 0 && c.emaDecay < 1))
    throw new Error(`finetune config: emaDecay must be in [0, 1), got ${c.emaDecay}`);
  if (!(c.uncondProb >= 0 && c.uncondProb <= 1))
    throw new Error(`finetune config: uncondProb must be in [0, 1], got ${c.uncondProb}`);
  if (c.weights !== 'reward' && c.weights !== 'human')
    throw new Error(`finetune config: unknown weights "${String(c.weights)}" (expected reward or human)`);
  if (c.beta > 0 && c.batchPre === 0) throw new Error('finetune config: beta > 0 needs batchPre >= 1');
  return c;
}

/** A problem the user can fix: a work folder from other settings, an empty or unscored D_model. */
export class FinetuneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FinetuneError';
  }
}

/** D_model: model-generated images with their prompts and weights (rewards or labels). */
export interface ModelSampleSource {
  readonly size: number;
  get(indices: readonly number[]): { images: RGBImage[]; prompts: string[]; weights: number[] };
}

/** D_pre batches start here, so fine-tuning draws fresh pairs of the pretraining distribution. */
export const PRE_BATCH_OFFSET = 10_000_000;

/** Positions in D_model of the batch of `step`: consecutive slices of per-epoch seeded permutations. */
export function modelBatchIndices(
  size: number,
  batch: number,
  step: number,
  seed: number,
  cache = new Map<number, number[]>(),
): number[] {
  if (size < 1) throw new Error('D_model is empty');
  const out: number[] = [];
  for (let j = 0; j < batch; j++) {
    const p = step * batch + j;
    const epoch = Math.floor(p / size);
    let perm = cache.get(epoch);
    if (!perm) {
      perm = new Rng(hashSeed(seed, 'perm', epoch)).shuffle(Array.from({ length: size }, (_, i) => i));
      if (cache.size > 4) cache.clear();
      cache.set(epoch, perm);
    }
    out.push(perm[p % size]!);
  }
  return out;
}

export interface FinetuneProgress {
  step: number;
  steps: number;
  loss: number;
  modelTerm: number;
  preTerm: number;
  /** mean weight of the logged steps' D_model batches */
  weightMean: number;
  imagesPerSecond: number;
  etaSeconds: number;
  lr: number;
}

interface FinetuneState {
  step: number;
  config: FinetuneConfig;
  unet: UNetConfig;
  scheduler: Partial<SchedulerConfig>;
  dataSize: number;
}

/** Settings that may change between sittings of one run (more steps, other logging, another device). */
const RESUMABLE_CHANGES: ReadonlySet<string> = new Set(['steps', 'logEvery', 'saveEvery', 'device']);

function sameTraining(a: FinetuneConfig, b: FinetuneConfig): string[] {
  return (Object.keys(a) as (keyof FinetuneConfig)[]).filter(
    (k) => !RESUMABLE_CHANGES.has(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]),
  );
}

/**
 * Fine-tunes (or resumes) in `workDir`: state.json, unet.safetensors, ema.safetensors,
 * optimizer.safetensors, log.jsonl. `init` is the original model's UNet (copied, not changed).
 * Stops at config.steps, after `maxStepsThisCall` steps, or when `shouldStop()` says so (a checkpoint
 * is written first). Returns a UNet with the EMA weights (raw weights when emaDecay = 0), owned by the caller.
 */
export async function finetune(o: {
  workDir: string;
  init: UNet2DConditionModel;
  schedulerConfig: Partial<SchedulerConfig>;
  textEncoder: TextEncoder;
  model: ModelSampleSource;
  pre: PairSource | null;
  config: Partial<FinetuneConfig>;
  onProgress?: (p: FinetuneProgress) => void;
  shouldStop?: () => boolean;
  maxStepsThisCall?: number;
}): Promise<{ unet: UNet2DConditionModel; step: number; done: boolean }> {
  const c = finetuneConfig(o.config);
  if (c.beta > 0 && !o.pre) throw new Error('finetune: beta > 0 needs D_pre pairs (pre)');
  mkdirSync(o.workDir, { recursive: true });
  const statePath = join(o.workDir, 'state.json');
  const unetConfig = o.init.config;
  const unet = new UNet2DConditionModel(unetConfig).to({ device: c.device });
  unet.loadStateDict(o.init.stateDict());
  unet.train();
  const params = unet.parameters();
  const names = [...unet.namedParameters()].map(([n]) => n);
  const opt = new optim.AdamW(params, { lr: c.lr, weightDecay: c.weightDecay });
  const ema = c.emaDecay > 0 ? new optim.EMA(params, c.emaDecay) : null;
  let step = 0;
  if (existsSync(statePath)) {
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as FinetuneState;
    if (JSON.stringify(state.unet) !== JSON.stringify(unetConfig)) {
      throw new FinetuneError(
        `${o.workDir}: holds a fine-tuning run of another UNet config; use another name or delete the folder`,
      );
    }
    const changed = sameTraining(state.config, c);
    if (changed.length) {
      throw new FinetuneError(
        `${o.workDir}: holds a fine-tuning run with other settings (${changed.join(', ')}); use another name or delete the folder`,
      );
    }
    if (state.dataSize !== o.model.size)
      throw new FinetuneError(
        `${o.workDir}: was started on ${state.dataSize} D_model images, now ${o.model.size}`,
      );
    step = state.step;
    const sd = loadSafetensors(join(o.workDir, 'unet.safetensors'), { device: c.device }).tensors;
    unet.loadStateDict(sd);
    for (const t of Object.values(sd)) t.dispose();
    if (ema) {
      const emaSd = loadSafetensors(join(o.workDir, 'ema.safetensors'), { device: c.device }).tensors;
      noGrad(() => {
        ema.shadow.forEach((s, i) => {
          s.copy_(emaSd[names[i]!]!);
        });
      });
      for (const t of Object.values(emaSd)) t.dispose();
    }
    const optSd = loadSafetensors(join(o.workDir, 'optimizer.safetensors'), { device: c.device });
    opt.loadStateDict({ tensors: optSd.tensors, scalars: { step: Number(optSd.metadata['step']) } });
    for (const t of Object.values(optSd.tensors)) t.dispose();
  }
  const scheduler = new DDPMScheduler(o.schedulerConfig);

  const save = (): void => {
    const tmp = (f: string) => join(o.workDir, `${f}.tmp`);
    saveSafetensors(tmp('unet.safetensors'), unet.stateDict());
    const files = ['unet.safetensors', 'optimizer.safetensors', 'state.json'];
    if (ema) {
      const emaSd: Record<string, Tensor> = {};
      ema.shadow.forEach((s, i) => {
        emaSd[names[i]!] = s;
      });
      saveSafetensors(tmp('ema.safetensors'), emaSd);
      files.push('ema.safetensors');
    }
    const os = opt.stateDict();
    saveSafetensors(tmp('optimizer.safetensors'), os.tensors, { step: String(os.scalars['step']) });
    const state: FinetuneState = {
      step,
      config: c,
      unet: unetConfig,
      scheduler: o.schedulerConfig,
      dataSize: o.model.size,
    };
    writeFileSync(tmp('state.json'), JSON.stringify(state, null, 2));
    // state.json is renamed last: a crash mid-save leaves the previous checkpoint whole
    for (const f of files) renameSync(tmp(f), join(o.workDir, f));
  };

  const logPath = join(o.workDir, 'log.jsonl');
  const permCache = new Map<number, number[]>();
  const window = { loss: 0, model: 0, pre: 0, weight: 0, steps: 0, start: performance.now() };
  const runStart = performance.now();
  const startStep = step;
  const stopAt = Math.min(
    c.steps,
    o.maxStepsThisCall !== undefined ? startStep + o.maxStepsThisCall : Number.POSITIVE_INFINITY,
  );
  const imagesPerStep = c.batchModel + (c.beta > 0 ? c.batchPre : 0);
  try {
    while (step < stopAt) {
      const lrNow = c.lr * optim.constantWithWarmup(step, c.warmupSteps);
      opt.lr = lrNow;
      const batch = o.model.get(modelBatchIndices(o.model.size, c.batchModel, step, c.seed, permCache));
      const pre = c.beta > 0 && o.pre ? o.pre.batch(PRE_BATCH_OFFSET + step, c.batchPre) : null;
      const rng = new Rng(hashSeed(c.seed, 'uncond', step));
      const drop = (p: string) => (rng.float() < c.uncondProb ? '' : p);
      const prompts = batch.prompts.map(drop);
      const captions = pre ? pre.captions.map(drop) : [];
      const weights = batch.weights.map((w) => Math.min(1, Math.max(0, w)));
      const r = tidy(() => {
        const x0 = imagesToTensor(batch.images, c.device).mul(2).sub(1);
        const context = noGrad(() => o.textEncoder.encode(prompts));
        const preBatch = pre
          ? {
              x0: imagesToTensor(pre.images, c.device).mul(2).sub(1),
              context: noGrad(() => o.textEncoder.encode(captions)),
            }
          : null;
        opt.zeroGrad();
        const l = rewardWeightedLoss(
          unet,
          scheduler,
          { x0, context, weights: tensor(weights, { device: c.device }) },
          preBatch,
          c.beta,
          {
            generator: new Generator(hashSeed(c.seed, 'noise', step)),
          },
        );
        l.loss.backward();
        optim.clipGradNorm(params, c.maxGradNorm);
        opt.step();
        return { loss: l.loss.item(), model: l.modelTerm.item(), pre: l.preTerm.item() };
      });
      // constant decay from step 0: the EMA starts at the original model's weights, which are already
      // good (pretraining's warm-up ramp (1 + t) / (10 + t) would cap it at 0.97 by step 300 and save
      // nearly the raw weights of the last ~30 steps)
      ema?.update(c.emaDecay);
      step++;
      window.loss += r.loss;
      window.model += r.model;
      window.pre += r.pre;
      window.weight += weights.reduce((s, w) => s + w, 0) / weights.length;
      window.steps++;
      if (step % c.logEvery === 0 || step === c.steps || step === stopAt) {
        const now = performance.now();
        const perStep = (now - runStart) / 1000 / (step - startStep);
        const p: FinetuneProgress = {
          step,
          steps: c.steps,
          loss: window.loss / window.steps,
          modelTerm: window.model / window.steps,
          preTerm: window.pre / window.steps,
          weightMean: window.weight / window.steps,
          imagesPerSecond: (window.steps * imagesPerStep) / ((now - window.start) / 1000),
          etaSeconds: perStep * (c.steps - step),
          lr: lrNow,
        };
        appendFileSync(logPath, `${JSON.stringify({ ...p, time: new Date().toISOString() })}\n`);
        o.onProgress?.(p);
        Object.assign(window, { loss: 0, model: 0, pre: 0, weight: 0, steps: 0, start: now });
      }
      // let signal handlers (Ctrl-C) run: the step itself never yields to the event loop
      await new Promise<void>((r) => setImmediate(r));
      const stop = o.shouldStop?.() ?? false;
      if (step % c.saveEvery === 0 || step === stopAt || stop) save();
      if (stop) break;
    }
    const out = new UNet2DConditionModel(unetConfig).to({ device: c.device });
    out.loadStateDict(unet.stateDict());
    if (ema) ema.copyTo(out.parameters());
    out.eval();
    return { unet: out, step, done: step >= c.steps };
  } finally {
    unet.dispose();
    opt.dispose();
    ema?.dispose();
  }
}
