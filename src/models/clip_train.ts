/**
 * Contrastive pretraining of CLIP (Radford et al. 2021, section 2.3, Figure 3's pseudocode) on
 * (image, caption) pairs: the symmetric InfoNCE loss over a batch's image-text similarity matrix,
 * logits scaled by exp(logit_scale) with the scale clipped at 100 (section 2.5).
 *
 * One deviation, for the sprite world's low-entropy captions: a batch of 256 noisy captions holds many
 * identical strings ("a dog."), which plain InfoNCE would treat as negatives of each other. Here a caption's
 * target is spread uniformly over every pair in the batch with the same caption text, compared as exact
 * strings (for unique captions this is exactly CLIP's loss).
 *
 * Reproducible and resumable: batch k is a pure function of (source, k), CLIP has no dropout, and the
 * output folder keeps fp32 weights, the optimizers' state and the step under `resume/`, so an
 * interrupted run continues exactly where it stopped.
 *
 * Output folder:
 *   config.json, model.safetensors (fp16), vocab.json   the shipped checkpoint (loadCLIPModel, loadTokenizer)
 *   resume/state.json, resume/model.safetensors, resume/optimizer.safetensors   exact-resume state (fp32)
 *   log.jsonl                                          one line per logged step and per evaluation
 *   eval.json                                          the final retrieval and count figures
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import {
  F,
  fromTypedArray,
  Generator,
  loadSafetensors,
  noGrad,
  optim,
  saveSafetensors,
  type Tensor,
  tidy,
} from '../torch/index.js';
import {
  CheckpointError,
  fillFromCheckpoint,
  loadCheckpoint,
  loadIntoModule,
  readCheckpointConfig,
  saveCheckpoint,
  writeFileAtomic,
} from './checkpoint.js';
import {
  CLIP_IGNORED_KEYS,
  type CLIPConfig,
  CLIPModel,
  clipCheckpointConfig,
  clipConfig,
  l2normalize,
} from './clip.js';
import {
  type CountCorrectnessResult,
  clipCountCorrectness,
  clipRetrieval,
  type RetrievalResult,
} from './clip_eval.js';
import type { PairSource } from './diffusion_train.js';
import { imagesToTensor } from './images.js';
import { type EncodeBatchOptions, VOCAB_FILE, type WorldTokenizer } from './tokenizer.js';

/** The shipped world CLIP: both towers 128 wide, 4 layers, 4 heads; 32x32 images in 4x4 patches. */
export function worldClipConfig(
  tokenizer: Pick<WorldTokenizer, 'vocabSize' | 'bosTokenId' | 'eosTokenId' | 'padTokenId' | 'maxLength'>,
): CLIPConfig {
  const tower = {
    hidden_size: 128,
    intermediate_size: 512,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    hidden_act: 'quick_gelu',
  };
  return clipConfig({
    text_config: {
      ...tower,
      vocab_size: tokenizer.vocabSize,
      max_position_embeddings: tokenizer.maxLength,
      bos_token_id: tokenizer.bosTokenId,
      eos_token_id: tokenizer.eosTokenId,
      pad_token_id: tokenizer.padTokenId,
    },
    vision_config: { ...tower, image_size: 32, patch_size: 4, num_channels: 3 },
    projection_dim: 128,
    logit_scale_init_value: 2.6592,
  });
}

export interface CLIPTrainConfig {
  /** total optimizer steps (the cosine schedule ends here) */
  steps: number;
  /** pairs per step: the contrastive matrix is batchSize x batchSize */
  batchSize: number;
  /** peak AdamW learning rate */
  lr: number;
  warmupSteps: number;
  /** decoupled weight decay on matrices only (not biases, norms, embeddings or logit_scale), as CLIP */
  weightDecay: number;
  /** AdamW betas; CLIP uses beta2 = 0.98 for stability with large batches */
  betas: [number, number];
  /**
   * learning-rate multiplier of logit_scale: at CLIP's lr the temperature barely moves in a run of a few
   * thousand steps (it starts at 1/0.07 and CLIP lets it grow to 100)
   */
  logitScaleLrMult: number;
  /** gradient-norm clip (0: off) */
  maxGradNorm: number;
  /** token columns fed to the text tower: 'longest' in the batch (captions are short), or a number */
  textLength: EncodeBatchOptions['length'];
  seed: number;
  logEvery: number;
  saveEvery: number;
  /** steps between small retrieval checks in the log (0: off) */
  evalEvery: number;
  device: string;
}

export const DEFAULT_CLIP_TRAIN: CLIPTrainConfig = {
  steps: 1500,
  batchSize: 256,
  lr: 5e-4,
  warmupSteps: 100,
  weightDecay: 0.1,
  betas: [0.9, 0.98],
  logitScaleLrMult: 10,
  maxGradNorm: 1,
  textLength: 'longest',
  seed: 0,
  logEvery: 10,
  saveEvery: 100,
  evalEvery: 250,
  device: 'cpu',
};

/**
 * Symmetric InfoNCE over logitsPerImage [B, B] (row i: image i against every caption). `captions` (length B)
 * merges identical caption strings into one target class per row (see the file comment); without it each
 * pair's own index is the target, as in CLIP. Returns the loss and its named parts.
 */
export function contrastiveLoss(
  logitsPerImage: Tensor,
  captions?: readonly string[],
): { loss: Tensor; imageToText: Tensor; textToImage: Tensor; accuracy: Tensor } {
  return tidy(() => {
    const B = logitsPerImage.size(0);
    const group: number[] = [];
    const seen = new Map<string, number>();
    for (let i = 0; i < B; i++) {
      const key = captions ? captions[i]! : String(i);
      if (!seen.has(key)) seen.set(key, seen.size);
      group.push(seen.get(key)!);
    }
    const sizes = new Map<number, number>();
    for (const gi of group) sizes.set(gi, (sizes.get(gi) ?? 0) + 1);
    const target = new Float32Array(B * B);
    for (let i = 0; i < B; i++)
      for (let j = 0; j < B; j++) if (group[i] === group[j]) target[i * B + j] = 1 / sizes.get(group[i]!)!;
    const T = fromArray(target, [B, B], logitsPerImage);
    const imageToText = F.logSoftmax(logitsPerImage, 1).mul(T).sum(1).mean().neg();
    const textToImage = F.logSoftmax(logitsPerImage.T, 1).mul(T).sum(1).mean().neg();
    const loss = imageToText.add(textToImage).div(2);
    // image -> text accuracy: the best caption has the true caption's text
    const pred = logitsPerImage.argmax(1).toArray();
    const correct = pred.filter((j, i) => group[j] === group[i]).length;
    const accuracy = fromArray(Float32Array.of(correct / B), [], logitsPerImage);
    return { loss, imageToText, textToImage, accuracy };
  });
}

function fromArray(data: Float32Array, shape: number[], like: Tensor): Tensor {
  return fromTypedArray(data, shape, { device: like.device });
}

/**
 * Parameter groups: `decay` = matrices and conv kernels (ndim >= 2, not embedding tables); `noDecay` =
 * biases, norms, embeddings; `scale` = logit_scale alone.
 */
export function splitDecay(
  model: CLIPModel,
  o: { freezeText?: boolean } = {},
): { decay: Tensor[]; noDecay: Tensor[]; scale: Tensor[] } {
  const decay: Tensor[] = [];
  const noDecay: Tensor[] = [];
  const scale: Tensor[] = [];
  for (const [name, p] of model.namedParameters()) {
    if (o.freezeText && isTextTower(name)) continue;
    if (name === 'logit_scale') scale.push(p);
    else (p.ndim >= 2 && !name.includes('embedding') ? decay : noDecay).push(p);
  }
  return { decay, noDecay, scale };
}

/** Parameters of the text tower: what a text-to-image model conditioned on this CLIP reads. */
export function isTextTower(name: string): boolean {
  return name.startsWith('text_model.') || name.startsWith('text_projection.');
}

export interface CLIPTrainLog {
  step: number;
  steps: number;
  loss: number;
  imageToText: number;
  textToImage: number;
  accuracy: number;
  logitScale: number;
  lr: number;
  gradNorm: number;
  imagesPerSecond: number;
  etaSeconds: number;
}

export interface CLIPTrainResult {
  model: CLIPModel;
  step: number;
  /** true when shouldStop ended the run early (no final evaluation then) */
  stopped: boolean;
  retrieval: RetrievalResult;
  count: CountCorrectnessResult;
}

interface ResumeState {
  step: number;
  /** TrainCLIPOptions.sourceInfo of the run */
  source?: unknown;
  train: CLIPTrainConfig;
  clip: CLIPConfig;
  /** seconds of training so far (all sittings) */
  elapsed: number;
  /** TrainCLIPOptions.init and .freezeText of the run (absent in runs from scratch) */
  init?: string;
  freezeText?: boolean;
}

export interface TrainCLIPOptions {
  source: PairSource;
  /** a JSON description of the source (e.g. the corpus config); resuming with another one is an error */
  sourceInfo?: unknown;
  tokenizer: WorldTokenizer;
  train: CLIPTrainConfig;
  /** model config (default: worldClipConfig(tokenizer)) */
  clip?: CLIPConfig;
  /** continue from `out/resume/` (an error when there is none) */
  resume?: boolean;
  /**
   * start from the weights of this CLIP checkpoint folder instead of a seeded init (its config must
   * equal the model config; ignored when resuming, which restores the run's own weights)
   */
  init?: string;
  /**
   * keep the text tower (`text_model.*`, `text_projection`) frozen: only the image tower, its projection
   * and logit_scale train. A text-to-image model conditioned on this CLIP's text tower stays valid.
   */
  freezeText?: boolean;
  /** extra entries of config.json (e.g. the command that produced the checkpoint) */
  checkpointInfo?: Record<string, unknown>;
  /** extra files for each saved checkpoint (e.g. README.md) */
  extraFiles?: (step: number) => Record<string, string>;
  onLog?: (log: CLIPTrainLog) => void;
  onEval?: (step: number, retrieval: RetrievalResult) => void;
  /** polled between steps: true saves a checkpoint and returns early (Ctrl-C) */
  shouldStop?: () => boolean;
  /** final evaluation sizes (default 1000 each; 0 skips) */
  evalImages?: number;
}

function readResume(dir: string): ResumeState {
  const path = join(dir, 'resume', 'state.json');
  if (!existsSync(path))
    throw new CheckpointError(`${dir}: nothing to resume (no resume/state.json); start without --resume`);
  return JSON.parse(readFileSync(path, 'utf8')) as ResumeState;
}

/**
 * Trains (or resumes) CLIP into `out`. Saves every `saveEvery` steps, at the end and when `shouldStop`
 * says so; evaluates at the end (`evalImages` images). Yields to the event loop between steps so that
 * signals are handled. Returns the trained model (eval mode) and the final figures.
 */
export async function trainCLIP(out: string, o: TrainCLIPOptions): Promise<CLIPTrainResult> {
  const tc = o.train;
  const tokenizer = o.tokenizer;
  mkdirSync(join(out, 'resume'), { recursive: true });
  let state: ResumeState;
  let clipCfg = o.clip ?? worldClipConfig(tokenizer);
  if (o.resume) {
    state = readResume(out);
    if (JSON.stringify(state.clip) !== JSON.stringify(clipCfg) && o.clip === undefined) clipCfg = state.clip;
    if (JSON.stringify(state.clip) !== JSON.stringify(clipCfg)) {
      throw new CheckpointError(
        `${out}: the saved model config differs from the requested one; resume with the same settings`,
      );
    }
    if (
      (state.init ?? null) !== (o.init ?? null) ||
      (state.freezeText ?? false) !== (o.freezeText ?? false)
    ) {
      throw new CheckpointError(
        `${out}: resuming needs the same --init and --freeze-text (saved ${JSON.stringify({ init: state.init ?? null, freezeText: state.freezeText ?? false })})`,
      );
    }
    for (const key of ['batchSize', 'seed', 'textLength'] as const) {
      if (JSON.stringify(state.train[key]) !== JSON.stringify(tc[key])) {
        throw new CheckpointError(
          `${out}: resuming needs the same ${key} (saved ${JSON.stringify(state.train[key])}, given ${JSON.stringify(tc[key])})`,
        );
      }
    }
    if (
      o.sourceInfo !== undefined &&
      state.source !== undefined &&
      JSON.stringify(state.source) !== JSON.stringify(o.sourceInfo)
    ) {
      throw new CheckpointError(
        `${out}: resuming needs the same training data (saved ${JSON.stringify(state.source)})`,
      );
    }
    state = { ...state, train: tc };
  } else {
    state = { step: 0, source: o.sourceInfo, train: tc, clip: clipCfg, elapsed: 0 };
    if (o.init !== undefined) state.init = o.init;
    if (o.freezeText) state.freezeText = true;
  }
  if (clipCfg.text_config.vocab_size !== tokenizer.vocabSize) {
    throw new CheckpointError(
      `${out}: model vocabulary ${clipCfg.text_config.vocab_size} != tokenizer vocabulary ${tokenizer.vocabSize}`,
    );
  }

  const model = new CLIPModel(clipCfg, new Generator(tc.seed));
  if (o.init !== undefined && !o.resume) {
    const initCfg = clipConfig(readCheckpointConfig(o.init, 'CLIPModel'));
    if (JSON.stringify(initCfg) !== JSON.stringify(clipCfg))
      throw new CheckpointError(`${o.init}: its CLIP config differs from the model being trained`);
    fillFromCheckpoint(model, loadCheckpoint(o.init), { ignore: CLIP_IGNORED_KEYS });
  }
  model.to({ device: tc.device });
  model.train();
  const groups = splitDecay(model, { freezeText: o.freezeText });
  const trained = [...groups.decay, ...groups.noDecay, ...groups.scale];
  const optDecay = new optim.AdamW(groups.decay, {
    lr: tc.lr,
    betas: tc.betas,
    eps: 1e-6,
    weightDecay: tc.weightDecay,
  });
  const optNoDecay = new optim.AdamW(groups.noDecay, {
    lr: tc.lr,
    betas: tc.betas,
    eps: 1e-6,
    weightDecay: 0,
  });
  const optScale = new optim.AdamW(groups.scale, {
    lr: tc.lr * tc.logitScaleLrMult,
    betas: tc.betas,
    eps: 1e-6,
    weightDecay: 0,
  });
  const optimizers = { decay: optDecay, no_decay: optNoDecay, scale: optScale };

  if (o.resume) {
    const weights = loadSafetensors(join(out, 'resume', 'model.safetensors'));
    loadIntoModule(model, weights.tensors, { source: join(out, 'resume') });
    for (const t of Object.values(weights.tensors)) t.dispose();
    const opt = loadSafetensors(join(out, 'resume', 'optimizer.safetensors'), { device: tc.device });
    const pick = (prefix: string) =>
      Object.fromEntries(
        Object.entries(opt.tensors)
          .filter(([k]) => k.startsWith(prefix))
          .map(([k, v]) => [k.slice(prefix.length), v]),
      );
    const scalars = JSON.parse(opt.metadata['scalars'] ?? '{}') as Record<string, Record<string, number>>;
    for (const [name, opt_] of Object.entries(optimizers))
      opt_.loadStateDict({ tensors: pick(`${name}.`), scalars: scalars[name] ?? {} });
    for (const t of Object.values(opt.tensors)) t.dispose();
  }

  const save = (step: number) => {
    const resumeDir = join(out, 'resume');
    saveSafetensors(join(resumeDir, 'model.safetensors.tmp'), model.stateDict());
    const tensors: Record<string, Tensor> = {};
    const scalars: Record<string, Record<string, number>> = {};
    for (const [name, opt_] of Object.entries(optimizers)) {
      const sd = opt_.stateDict();
      for (const [k, v] of Object.entries(sd.tensors)) tensors[`${name}.${k}`] = v;
      scalars[name] = sd.scalars;
    }
    saveSafetensors(join(resumeDir, 'optimizer.safetensors.tmp'), tensors, {
      scalars: JSON.stringify(scalars),
    });
    renameAll(resumeDir, ['model.safetensors', 'optimizer.safetensors']);
    writeFileAtomic(join(resumeDir, 'state.json'), `${JSON.stringify({ ...state, step }, null, 2)}\n`);
    saveCheckpoint(out, {
      config: clipCheckpointConfig(clipCfg, { training: { step, ...o.checkpointInfo } }),
      module: model,
      dtype: 'float16',
      files: { [VOCAB_FILE]: tokenizer.vocabJson(), ...(o.extraFiles ? o.extraFiles(step) : {}) },
    });
  };

  const log = (entry: Record<string, unknown>) =>
    appendFileSync(join(out, 'log.jsonl'), `${JSON.stringify(entry)}\n`);
  const maxScale = Math.log(100);
  let t0 = performance.now();
  let imagesSince = 0;
  const sittingStart = performance.now();
  const elapsedBefore = state.elapsed;
  let stoppedAt: number | null = null;
  for (let step = state.step; step < tc.steps; step++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (o.shouldStop?.()) {
      state.elapsed = elapsedBefore + (performance.now() - sittingStart) / 1000;
      save(step);
      stoppedAt = step;
      break;
    }
    const mult = optim.cosineWithWarmup(step, tc.warmupSteps, tc.steps);
    optDecay.lr = tc.lr * mult;
    optNoDecay.lr = tc.lr * mult;
    optScale.lr = tc.lr * tc.logitScaleLrMult * mult;
    const { images, captions } = o.source.batch(step, tc.batchSize);
    const m = tidy(() => {
      const pixels = imagesToTensor(images, tc.device);
      const ids = tokenizer.encodeBatch(captions, { length: tc.textLength }).to({ device: tc.device });
      const img = l2normalize(model.encodeImage(pixels).imageEmbeds);
      const txt = o.freezeText
        ? noGrad(() => l2normalize(model.encodeText(ids).textEmbeds))
        : l2normalize(model.encodeText(ids).textEmbeds);
      const logits = img.matmul(txt.T).mul(model.logit_scale.exp());
      const parts = contrastiveLoss(logits, captions);
      for (const opt_ of Object.values(optimizers)) opt_.zeroGrad();
      parts.loss.backward();
      const gradNorm = tc.maxGradNorm > 0 ? optim.clipGradNorm(trained, tc.maxGradNorm) : Number.NaN;
      for (const opt_ of Object.values(optimizers)) opt_.step();
      noGrad(() => model.logit_scale.clamp_(0, maxScale));
      return {
        loss: parts.loss.item(),
        imageToText: parts.imageToText.item(),
        textToImage: parts.textToImage.item(),
        accuracy: parts.accuracy.item(),
        gradNorm,
      };
    });
    imagesSince += images.length;
    const done = step + 1;
    if (!Number.isFinite(m.loss))
      throw new Error(`CLIP training diverged at step ${done} (loss ${m.loss}); lower --lr`);
    if (done % tc.logEvery === 0 || done === tc.steps) {
      const secs = (performance.now() - t0) / 1000;
      const ips = imagesSince / Math.max(secs, 1e-9);
      const entry: CLIPTrainLog = {
        step: done,
        steps: tc.steps,
        ...m,
        logitScale: model.logit_scale.item(),
        lr: optDecay.lr,
        imagesPerSecond: ips,
        etaSeconds: ((tc.steps - done) * tc.batchSize) / Math.max(ips, 1e-9),
      };
      log({ ...entry, time: new Date().toISOString() });
      o.onLog?.(entry);
      t0 = performance.now();
      imagesSince = 0;
    }
    if (tc.evalEvery > 0 && done % tc.evalEvery === 0 && done !== tc.steps) {
      const r = clipRetrieval(model, tokenizer, { n: 200, seed: 1 });
      log({ step: done, eval: 'retrieval', ...r });
      o.onEval?.(done, r);
      t0 = performance.now();
      imagesSince = 0;
    }
    if (done % tc.saveEvery === 0 || done === tc.steps) {
      state.elapsed = elapsedBefore + (performance.now() - sittingStart) / 1000;
      save(done);
    }
  }
  if (state.step >= tc.steps && !existsSync(join(out, 'model.safetensors'))) save(state.step);

  model.eval();
  optDecay.dispose();
  optNoDecay.dispose();
  optScale.dispose();
  if (stoppedAt !== null)
    return { model, step: stoppedAt, stopped: true, retrieval: emptyRetrieval(), count: emptyCount() };
  const n = o.evalImages ?? 1000;
  const retrieval = n > 0 ? clipRetrieval(model, tokenizer, { n, seed: 0 }) : emptyRetrieval();
  const count = n > 0 ? clipCountCorrectness(model, tokenizer, { n, seed: 0 }) : emptyCount();
  if (n > 0) {
    const step = Math.max(state.step, tc.steps);
    writeFileAtomic(join(out, 'eval.json'), `${JSON.stringify({ step, retrieval, count }, null, 2)}\n`);
    log({ step, eval: 'final', retrieval, count });
  }
  return { model, step: Math.max(state.step, tc.steps), stopped: false, retrieval, count };
}

function renameAll(dir: string, names: string[]): void {
  for (const n of names) renameSync(join(dir, `${n}.tmp`), join(dir, n));
}

function emptyRetrieval(): RetrievalResult {
  return {
    n: 0,
    candidates: 0,
    top1: Number.NaN,
    top5: Number.NaN,
    objectAccuracy: Number.NaN,
    colorAccuracy: Number.NaN,
    backgroundAccuracy: Number.NaN,
  };
}
function emptyCount(): CountCorrectnessResult {
  return {
    n: 0,
    positiveRate: Number.NaN,
    auc: Number.NaN,
    bestThresholdAccuracy: Number.NaN,
    countTop1: Number.NaN,
    meanScoreRight: Number.NaN,
    meanScoreWrong: Number.NaN,
  };
}
