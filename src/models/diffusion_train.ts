/**
 * Pretraining of the text-to-image diffusion model on (image, caption) pairs: denoising loss
 * (Ho et al. 2020) with the frozen text encoder's hidden states as context, captions dropped to ""
 * with probability `uncondProb` (classifier-free guidance, Ho & Salimans 2022), AdamW, gradient
 * clipping, an EMA of the weights, periodic checkpoints and sample grids.
 *
 * Reproducible and resumable: the batch of step k depends only on (seed, k), and the work folder
 * keeps the weights, EMA, optimizer state and step, so an interrupted run continues exactly.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Generator,
  loadSafetensors,
  noGrad,
  optim,
  saveSafetensors,
  type Tensor,
  tidy,
} from '../torch/index.js';
import type { RGBImage } from '../world/image.js';
import { hashSeed, Rng } from '../world/rng.js';
import { denoisingLoss } from './denoising_loss.js';
import { imagesToTensor } from './images.js';
import type { TextEncoder } from './pipeline.js';
import { DDPMScheduler, type SchedulerConfig } from './scheduler_ddpm.js';
import { UNet2DConditionModel, type UNetConfig } from './unet.js';

/** Where training pairs come from: batch `index` of `size` pairs, a pure function of its arguments. */
export interface PairSource {
  batch(index: number, size: number): { images: RGBImage[]; captions: string[] };
}

export interface DiffusionTrainConfig {
  /** total optimizer steps */
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  /** gradient-norm clip */
  maxGradNorm: number;
  /** EMA decay of the shipped weights */
  emaDecay: number;
  /** probability of replacing a caption by "" (classifier-free guidance) */
  uncondProb: number;
  seed: number;
  logEvery: number;
  saveEvery: number;
  device: string;
}

export const DEFAULT_DIFFUSION_TRAIN: DiffusionTrainConfig = {
  steps: 15_000,
  batchSize: 64,
  lr: 5e-4,
  warmupSteps: 500,
  weightDecay: 0.01,
  maxGradNorm: 1,
  emaDecay: 0.999,
  uncondProb: 0.1,
  seed: 0,
  logEvery: 50,
  saveEvery: 250,
  device: 'cpu',
};

export interface TrainState {
  step: number;
  config: DiffusionTrainConfig;
  unet: UNetConfig;
  scheduler: Partial<SchedulerConfig>;
}

export interface TrainProgress {
  step: number;
  steps: number;
  loss: number;
  imagesPerSecond: number;
  etaSeconds: number;
  lr: number;
}

/**
 * Trains (or resumes) in `workDir`: `state.json`, `unet.safetensors`, `ema.safetensors`,
 * `optimizer.safetensors`, `log.jsonl`. Returns the UNet holding the EMA weights.
 * `onCheckpoint` runs after each save (sample grids, export).
 */
export async function trainDiffusion(o: {
  workDir: string;
  unetConfig: UNetConfig;
  schedulerConfig: Partial<SchedulerConfig>;
  config: DiffusionTrainConfig;
  data: PairSource;
  textEncoder: TextEncoder;
  onProgress?: (p: TrainProgress) => void;
  onCheckpoint?: (step: number, ema: UNet2DConditionModel) => void | Promise<void>;
  /** stop early (signal handling): checked after every step; a checkpoint is written first */
  shouldStop?: () => boolean;
  /**
   * Start from these weights at this step when `workDir` holds no state (a warm restart from an
   * exported checkpoint: the weights and EMA start equal, the optimizer's moments start at zero).
   */
  init?: { stateDict: Record<string, Tensor>; step: number };
}): Promise<{ ema: UNet2DConditionModel; step: number }> {
  const c = o.config;
  mkdirSync(o.workDir, { recursive: true });
  const statePath = join(o.workDir, 'state.json');
  const unet = new UNet2DConditionModel(o.unetConfig, { generator: new Generator(c.seed) }).to({
    device: c.device,
  });
  const ema = new UNet2DConditionModel(o.unetConfig).to({ device: c.device });
  ema.loadStateDict(unet.stateDict());
  ema.eval();
  const params = unet.parameters();
  const opt = new optim.AdamW(params, { lr: c.lr, weightDecay: c.weightDecay });
  const emaTracker = new optim.EMA(params, c.emaDecay);
  let step = 0;
  if (existsSync(statePath)) {
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as TrainState;
    if (JSON.stringify(state.unet) !== JSON.stringify(o.unetConfig)) {
      throw new Error(
        `${o.workDir}: holds a run of a different UNet config; use another --work folder or delete it`,
      );
    }
    step = state.step;
    unet.loadStateDict(loadSafetensors(join(o.workDir, 'unet.safetensors'), { device: c.device }).tensors);
    const emaSd = loadSafetensors(join(o.workDir, 'ema.safetensors'), { device: c.device }).tensors;
    noGrad(() => {
      const names = Object.keys(unet.stateDict());
      emaTracker.shadow.forEach((s, i) => {
        s.copy_(emaSd[names[i]!]!);
      });
    });
    const optSd = loadSafetensors(join(o.workDir, 'optimizer.safetensors'), { device: c.device });
    opt.loadStateDict({ tensors: optSd.tensors, scalars: { step: Number(optSd.metadata['step']) } });
  } else if (o.init) {
    unet.loadStateDict(o.init.stateDict);
    noGrad(() => {
      emaTracker.shadow.forEach((s, i) => {
        s.copy_(params[i]!);
      });
    });
    step = o.init.step;
  }
  const scheduler = new DDPMScheduler(o.schedulerConfig);

  const save = async (): Promise<void> => {
    const names = Object.keys(unet.stateDict());
    const emaSd: Record<string, Tensor> = {};
    emaTracker.shadow.forEach((s, i) => {
      emaSd[names[i]!] = s;
    });
    const tmp = (f: string) => join(o.workDir, `${f}.tmp`);
    saveSafetensors(tmp('unet.safetensors'), unet.stateDict());
    saveSafetensors(tmp('ema.safetensors'), emaSd);
    const os = opt.stateDict();
    saveSafetensors(tmp('optimizer.safetensors'), os.tensors, { step: String(os.scalars['step']) });
    const state: TrainState = { step, config: c, unet: o.unetConfig, scheduler: o.schedulerConfig };
    writeFileSync(tmp('state.json'), JSON.stringify(state, null, 2));
    // rename last: a crash mid-save leaves the previous checkpoint intact
    for (const f of ['unet.safetensors', 'ema.safetensors', 'optimizer.safetensors', 'state.json'])
      renameSync(tmp(f), join(o.workDir, f));
    emaTracker.copyTo(ema.parameters());
    await o.onCheckpoint?.(step, ema);
  };

  const logPath = join(o.workDir, 'log.jsonl');
  let windowLoss = 0;
  let windowSteps = 0;
  let windowStart = performance.now();
  const runStart = performance.now();
  const startStep = step;
  while (step < c.steps) {
    const lrNow = c.lr * optim.constantWithWarmup(step, c.warmupSteps);
    opt.lr = lrNow;
    const { images, captions } = o.data.batch(step, c.batchSize);
    const rng = new Rng(hashSeed(c.seed, 'uncond', step));
    const conditioned = captions.map((cap) => (rng.float() < c.uncondProb ? '' : cap));
    const loss = tidy(() => {
      const x0 = imagesToTensor(images, c.device).mul(2).sub(1);
      const context = noGrad(() => o.textEncoder.encode(conditioned));
      opt.zeroGrad();
      const l = denoisingLoss(unet, scheduler, x0, context, {
        generator: new Generator(hashSeed(c.seed, 'noise', step)),
      }).mean();
      l.backward();
      optim.clipGradNorm(params, c.maxGradNorm);
      opt.step();
      return l.item();
    });
    emaTracker.update(Math.min(c.emaDecay, (1 + step) / (10 + step)));
    step++;
    windowLoss += loss;
    windowSteps++;
    if (step % c.logEvery === 0 || step === c.steps) {
      const now = performance.now();
      const ips = (windowSteps * c.batchSize) / ((now - windowStart) / 1000);
      const perStep = (now - runStart) / 1000 / (step - startStep);
      const p: TrainProgress = {
        step,
        steps: c.steps,
        loss: windowLoss / windowSteps,
        imagesPerSecond: ips,
        etaSeconds: perStep * (c.steps - step),
        lr: lrNow,
      };
      appendFileSync(logPath, `${JSON.stringify({ ...p, time: new Date().toISOString() })}\n`);
      o.onProgress?.(p);
      windowLoss = 0;
      windowSteps = 0;
      windowStart = now;
    }
    // let the event loop run (signal handlers set the stop flag there)
    await new Promise<void>((resolve) => setImmediate(resolve));
    const stop = o.shouldStop?.() ?? false;
    if (step % c.saveEvery === 0 || step === c.steps || stop) await save();
    if (stop) break;
  }
  if (step === startStep) emaTracker.copyTo(ema.parameters());
  unet.dispose();
  opt.dispose();
  emaTracker.dispose();
  return { ema, step };
}
