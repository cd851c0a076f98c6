/**
 * Settings of reward learning (paper section "Reward learning", eq. 1, Algorithm 1), in one typed
 * object whose defaults the CLI flags are derived from.
 *
 * Model
 *  - `hidden` (512): width of the 2-layer MLP r(x, z) = W2 relu(W1 [e_x; e_z] + b1) + b2 (Algorithm 1's
 *    `pred_r`, "two-layers MLPs"); e_x, e_z are L2-normalised CLIP image and text embeddings.
 *  - `features` ('concat'): the MLP input. 'concat' is [e_x; e_z] as in the paper; 'concat_product'
 *    appends e_x * e_z (elementwise), which hands the MLP the terms of CLIP's cosine directly;
 *    'concat_cos' appends the cosine itself, one input, so the CLIP score is one weight away.
 *
 * Loss: L = MSE(r(x, z), y) + lambda L_pc (eq. 1)
 *  - `lambda` (1): weight of the prompt-classification term.
 *  - `numPerturbed` (N = 8): perturbed prompts per image (world perturbPrompts, Algorithm 2); the true
 *    prompt is class 0 of N + 1.
 *  - `temperature` (T = 0.1): softmax over r / T. Rewards live on the label scale [0, 1]; with T = 0.1 a
 *    margin of 0.5 between the true prompt and 8 negatives already gives a CE of 0.05, so the PC term
 *    asks for no larger margin than the labels themselves (good = 1 vs. a wrong prompt = 0).
 *  - `pcImages` ('good'): which images enter L_pc. 'good' follows the paper's D^txt, built from images
 *    with y = 1: each image's cross-entropy is weighted by its (averaged) label y, so images both
 *    labelers called good count fully, disagreements half, bad images not at all (for a bad image the
 *    true prompt need not be the best description: a "Two dogs." image showing three dogs is better
 *    described by the perturbed "Three dogs."). 'all' applies it to every image, as Algorithm 1's loop.
 *
 * Labels: good = 1, bad = 0; several labelers' labels of one image are *averaged* into y (each image
 * counts once in the MSE, whatever the number of labelers; the MSE-optimal prediction is the same
 * mean). Skip labels are left out; an image whose labels are all skip has no y and is left out of the
 * MSE term (and, in 'good' mode, of L_pc).
 *
 * Optimisation: AdamW, `lr` 1e-3, `weightDecay` 0.01, `epochs` 30, `batchSize` 64; the CLIP towers are
 * frozen (embeddings are computed once and cached in the run).
 *
 * Data: a train / validation split *by prompt* (no prompt has images on both sides), stratified by
 * category, `valFraction` 0.2 of each category's prompts, drawn with `seed`.
 */
export const REWARD_FEATURES = ['concat', 'concat_product', 'concat_cos'] as const;
export type RewardFeatures = (typeof REWARD_FEATURES)[number];
export type PcImages = 'good' | 'all';

export interface RewardConfig {
  hidden: number;
  features: RewardFeatures;
  lambda: number;
  numPerturbed: number;
  temperature: number;
  pcImages: PcImages;
  lr: number;
  weightDecay: number;
  epochs: number;
  batchSize: number;
  valFraction: number;
  seed: number;
  device: string;
}

export const DEFAULT_REWARD_CONFIG: Readonly<RewardConfig> = {
  hidden: 512,
  features: 'concat',
  lambda: 1,
  numPerturbed: 8,
  temperature: 0.1,
  pcImages: 'good',
  lr: 1e-3,
  weightDecay: 0.01,
  epochs: 30,
  batchSize: 64,
  valFraction: 0.2,
  seed: 0,
  device: 'cpu',
};

/** A full config from a partial one; every bad field is an error that names it. */
export function rewardConfig(partial: Partial<RewardConfig> = {}): RewardConfig {
  const c = { ...DEFAULT_REWARD_CONFIG, ...partial };
  const posInt = (k: keyof RewardConfig) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`reward config: ${k} must be a positive integer, got ${v}`);
  };
  const nonNeg = (k: keyof RewardConfig) => {
    const v = c[k] as number;
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0))
      throw new Error(`reward config: ${k} must be a number >= 0, got ${v}`);
  };
  posInt('hidden');
  posInt('epochs');
  posInt('batchSize');
  nonNeg('lambda');
  nonNeg('weightDecay');
  if (!Number.isInteger(c.numPerturbed) || c.numPerturbed < 0) {
    throw new Error(`reward config: numPerturbed must be a non-negative integer, got ${c.numPerturbed}`);
  }
  if (!(c.temperature > 0)) throw new Error(`reward config: temperature must be > 0, got ${c.temperature}`);
  if (!(c.lr > 0)) throw new Error(`reward config: lr must be > 0, got ${c.lr}`);
  if (!(c.valFraction >= 0 && c.valFraction < 1))
    throw new Error(`reward config: valFraction must be in [0, 1), got ${c.valFraction}`);
  if (!REWARD_FEATURES.includes(c.features)) {
    throw new Error(
      `reward config: unknown features "${String(c.features)}" (expected ${REWARD_FEATURES.join(', ')})`,
    );
  }
  if (c.pcImages !== 'good' && c.pcImages !== 'all') {
    throw new Error(`reward config: unknown pcImages "${String(c.pcImages)}" (expected good or all)`);
  }
  if (c.lambda > 0 && c.numPerturbed === 0)
    throw new Error('reward config: lambda > 0 needs numPerturbed >= 1');
  if (!Number.isInteger(c.seed) || c.seed < 0)
    throw new Error(`reward config: seed must be a non-negative integer, got ${c.seed}`);
  return c;
}
