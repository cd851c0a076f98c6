/**
 * Reward learning (paper eq. 1, Algorithm 1) on cached CLIP embeddings:
 *
 *   L(phi) = MSE(r_phi(x, z), y) + lambda L_pc(phi)
 *
 * For every image of a batch, its true prompt and N perturbed prompts (world perturbPrompts,
 * Algorithm 2, redrawn each epoch) are scored by the MLP; column 0 of the [B, 1 + N] scores is
 * r(x, z) for the MSE term, and the whole row feeds the prompt-classification cross-entropy with
 * the true prompt as class 0. Train and validation are logged separately each epoch: each loss
 * term, accuracy per category at threshold 0.5, reward min / mean / max (TRL's reward trainer style).
 *
 * Reproducible: the init, the epoch order and the perturbations all derive from config.seed.
 */
import { fromTypedArray, Generator, noGrad, optim, type Tensor, tensor, tidy } from '../torch/index.js';
import { perturbPrompts } from '../world/perturb.js';
import { formatPrompt, type Prompt, parsePrompt } from '../world/prompt.js';
import { hashSeed, Rng } from '../world/rng.js';
import { type RewardConfig, rewardConfig } from './config.js';
import type { RewardExample } from './data.js';
import type { EmbeddingStore } from './embeddings.js';
import { type CategoryAccuracy, labelAccuracy, rewardStats } from './metrics.js';
import { promptClassificationCE } from './prompt_classification.js';
import { RewardModel } from './reward_model.js';

/** One side of the split: examples and their image embeddings [n, P] (row i = examples[i]). */
export interface RewardSplit {
  examples: readonly RewardExample[];
  imageEmbeds: Tensor;
}

/** What the trainer needs to embed prompts: a store keyed by text and the function that fills it. */
export interface TextEmbeddings {
  store: EmbeddingStore;
  /** texts -> [n, P] L2-normalised CLIP text embeddings */
  embed: (texts: string[]) => Tensor;
}

export interface SplitMetrics {
  /** mse + lambda pc */
  loss: number;
  mse: number;
  pc: number;
  /** per label, threshold 0.5 */
  accuracy: CategoryAccuracy;
  reward: { min: number; mean: number; max: number };
  images: number;
  labels: number;
}

export interface EpochLog {
  epoch: number;
  steps: number;
  lr: number;
  seconds: number;
  train: SplitMetrics;
  val: SplitMetrics | null;
}

const parsed = new Map<string, Prompt>();
function parseCached(text: string): Prompt {
  let p = parsed.get(text);
  if (!p) {
    p = parsePrompt(text);
    parsed.set(text, p);
  }
  return p;
}

/** The N perturbed prompts of an example in epoch `epoch` ('eval' for the fixed evaluation draw). */
export function perturbedTexts(
  ex: RewardExample,
  n: number,
  seed: number,
  epoch: number | 'eval',
  avoid?: ReadonlySet<string>,
): string[] {
  if (n === 0) return [];
  return perturbPrompts(parseCached(ex.prompt), n, {
    seed: hashSeed(seed, 'pc', String(epoch), ex.imageId),
    exclude: avoid,
  }).map(formatPrompt);
}

/** Text rows [n, 1 + N] (true prompt first) of the examples, embedding any text not yet in the store. */
function textIndex(
  examples: readonly RewardExample[],
  texts: TextEmbeddings,
  c: RewardConfig,
  epoch: number | 'eval',
  avoid?: ReadonlySet<string>,
): BigInt64Array {
  const N = c.lambda > 0 ? c.numPerturbed : 0;
  const rows = examples.map((ex) => [ex.prompt, ...perturbedTexts(ex, N, c.seed, epoch, avoid)]);
  texts.store.ensure(rows.flat(), texts.embed);
  const out = new BigInt64Array(examples.length * (N + 1));
  rows.forEach((r, i) => {
    r.forEach((t, j) => {
      out[i * (N + 1) + j] = BigInt(texts.store.indexOf(t));
    });
  });
  return out;
}

interface Batch {
  /** [B, 1 + N] */
  scores: Tensor;
  mse: Tensor;
  pc: Tensor;
  loss: Tensor;
}

/** Scores and losses of the examples `idx` (positions in `split`). */
function batchLoss(
  model: RewardModel,
  split: RewardSplit,
  idx: readonly number[],
  textRows: BigInt64Array,
  textMatrix: Tensor,
  c: RewardConfig,
): Batch {
  return tidy(() => {
    const device = c.device;
    const B = idx.length;
    const K = textRows.length / split.examples.length;
    const rows = new BigInt64Array(B * K);
    idx.forEach((i, b) => {
      rows.set(textRows.subarray(i * K, (i + 1) * K), b * K);
    });
    const P = textMatrix.size(1);
    const img = split.imageEmbeds.indexSelect(
      0,
      fromTypedArray(BigInt64Array.from(idx, BigInt), [B], { device }),
    );
    const txt = textMatrix.indexSelect(0, fromTypedArray(rows, [B * K], { device })).view(B, K, P);
    const scores = model.forward(img.unsqueeze(1).expand(B, K, P), txt);
    const ys = idx.map((i) => split.examples[i]!.y);
    const y = tensor(
      ys.map((v) => v ?? 0),
      { device },
    );
    const mask = tensor(
      ys.map((v) => (v === null ? 0 : 1)),
      { device },
    );
    const r0 = scores.select(1, 0);
    const mse = r0.sub(y).square().mul(mask).sum().div(mask.sum().clamp(1));
    let pc = tensor(0, { device });
    if (K > 1) {
      const ce = promptClassificationCE(scores, c.temperature);
      const w = c.pcImages === 'good' ? y.mul(mask) : tensor(new Array(B).fill(1), { device });
      pc = ce.mul(w).sum().div(w.sum().clamp(1e-12));
    }
    const loss = c.lambda > 0 ? mse.add(pc.mul(c.lambda)) : mse;
    return { scores, mse, pc, loss };
  });
}

/** r(x, z) of every example with its own prompt [n] (no gradient). */
export function scoreExamples(
  model: RewardModel,
  split: RewardSplit,
  texts: TextEmbeddings,
  batch = 4096,
): Float32Array {
  texts.store.ensure(
    split.examples.map((e) => e.prompt),
    texts.embed,
  );
  const device = split.imageEmbeds.device;
  const out = new Float32Array(split.examples.length);
  noGrad(() => {
    for (let s = 0; s < split.examples.length; s += batch) {
      const part = split.examples.slice(s, s + batch);
      tidy(() => {
        const idx = fromTypedArray(
          BigInt64Array.from(part.map((e) => BigInt(texts.store.indexOf(e.prompt)))),
          [part.length],
          { device },
        );
        const txt = texts.store.matrix(device).indexSelect(0, idx);
        const img = split.imageEmbeds.slice(0, s, s + part.length);
        out.set(model.forward(img, txt).toFloat32Array(), s);
      });
    }
  });
  return out;
}

const evalRows = new WeakMap<RewardSplit, { store: EmbeddingStore; seed: number; rows: BigInt64Array }>();

/** Loss terms, accuracy and reward statistics of a split, with the fixed evaluation perturbations. */
export function evaluateSplit(
  model: RewardModel,
  split: RewardSplit,
  texts: TextEmbeddings,
  config: RewardConfig,
): SplitMetrics {
  const c = config;
  const n = split.examples.length;
  // the evaluation perturbations are fixed: draw and index them once per split
  const K = 1 + (c.lambda > 0 ? c.numPerturbed : 0);
  const cached = evalRows.get(split);
  let textRows: BigInt64Array;
  if (cached && cached.store === texts.store && cached.seed === c.seed && cached.rows.length === n * K)
    textRows = cached.rows;
  else {
    textRows = textIndex(split.examples, texts, c, 'eval');
    evalRows.set(split, { store: texts.store, seed: c.seed, rows: textRows });
  }
  const matrix = texts.store.matrix(c.device);
  const r0 = new Float32Array(n);
  let mseSum = 0;
  let mseW = 0;
  let pcSum = 0;
  let pcW = 0;
  const batch = 1024;
  noGrad(() => {
    for (let s = 0; s < n; s += batch) {
      const idx = Array.from({ length: Math.min(batch, n - s) }, (_, j) => s + j);
      tidy(() => {
        const b = batchLoss(model, split, idx, textRows, matrix, c);
        r0.set(b.scores.select(1, 0).toFloat32Array(), s);
        const ys = idx.map((i) => split.examples[i]!.y);
        const mw = ys.filter((v) => v !== null).length;
        const pw = c.pcImages === 'good' ? ys.reduce<number>((a, v) => a + (v ?? 0), 0) : idx.length;
        mseSum += b.mse.item() * mw;
        mseW += mw;
        if (b.scores.size(1) > 1) {
          pcSum += b.pc.item() * pw;
          pcW += pw;
        }
      });
    }
  });
  const mse = mseW ? mseSum / mseW : Number.NaN;
  const pc = pcW ? pcSum / pcW : 0;
  return {
    loss: mse + (c.lambda > 0 ? c.lambda * pc : 0),
    mse,
    pc,
    accuracy: labelAccuracy(split.examples, r0),
    reward: rewardStats(r0),
    images: n,
    labels: split.examples.reduce((s, e) => s + e.labels.length, 0),
  };
}

/**
 * Trains a reward model from scratch (init seeded by config.seed). `onEpoch` receives each epoch's
 * train / validation metrics. Returns the model (on config.device) and the log.
 */
export function trainRewardModel(o: {
  train: RewardSplit;
  val?: RewardSplit;
  texts: TextEmbeddings;
  config: Partial<RewardConfig>;
  onEpoch?: (log: EpochLog) => void;
  /** evaluate every this many epochs (and after the last); default 1 */
  evalEvery?: number;
  /**
   * prompts of the held-out side (validation, a cross-validation fold): never drawn as perturbed
   * prompts, so that no held-out prompt reaches training, not even as a negative
   */
  heldOutPrompts?: ReadonlySet<string>;
}): { model: RewardModel; history: EpochLog[] } {
  const c = rewardConfig(o.config);
  const { train } = o;
  const n = train.examples.length;
  if (n === 0) throw new Error('trainRewardModel: no training examples');
  for (const ex of [...train.examples, ...(o.val?.examples ?? [])]) parseCached(ex.prompt);
  const P = train.imageEmbeds.size(1);
  // tidy frees the init's temporaries (the parameters themselves are kept)
  const model = tidy(() =>
    new RewardModel(
      { embed_dim: P, hidden: c.hidden, features: c.features },
      { generator: new Generator(c.seed) },
    ).to({ device: c.device }),
  );
  const opt = new optim.AdamW(model.parameters(), { lr: c.lr, weightDecay: c.weightDecay });
  const history: EpochLog[] = [];
  const evalEvery = o.evalEvery ?? 1;
  let steps = 0;
  try {
    for (let epoch = 0; epoch < c.epochs; epoch++) {
      const start = performance.now();
      const textRows = textIndex(train.examples, o.texts, c, epoch, o.heldOutPrompts);
      const matrix = o.texts.store.matrix(c.device);
      const order = new Rng(hashSeed(c.seed, 'order', epoch)).shuffle(Array.from({ length: n }, (_, i) => i));
      model.train();
      for (let s = 0; s < n; s += c.batchSize) {
        const idx = order.slice(s, s + c.batchSize);
        tidy(() => {
          opt.zeroGrad();
          const b = batchLoss(model, train, idx, textRows, matrix, c);
          b.loss.backward();
          opt.step();
        });
        steps++;
      }
      model.eval();
      if ((epoch + 1) % evalEvery === 0 || epoch === c.epochs - 1) {
        const log: EpochLog = {
          epoch: epoch + 1,
          steps,
          lr: c.lr,
          seconds: (performance.now() - start) / 1000,
          train: evaluateSplit(model, train, o.texts, c),
          val: o.val?.examples.length ? evaluateSplit(model, o.val, o.texts, c) : null,
        };
        history.push(log);
        o.onEpoch?.(log);
      }
    }
  } finally {
    opt.dispose();
  }
  return { model, history };
}

/** CLIP score cos(e_x, e_z) of every example with its own prompt (embeddings are L2-normalised). */
export function clipScores(split: RewardSplit, texts: TextEmbeddings): Float32Array {
  texts.store.ensure(
    split.examples.map((e) => e.prompt),
    texts.embed,
  );
  return tidy(() => {
    const device = split.imageEmbeds.device;
    const idx = fromTypedArray(
      BigInt64Array.from(split.examples.map((e) => BigInt(texts.store.indexOf(e.prompt)))),
      [split.examples.length],
      {
        device,
      },
    );
    const txt = texts.store.matrix(device).indexSelect(0, idx);
    return split.imageEmbeds.mul(txt).sum(-1).toFloat32Array();
  });
}
