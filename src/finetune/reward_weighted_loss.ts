/**
 * The fine-tuning objective of the paper (section "Updating the text-to-image model"):
 *
 *   L(theta) = E_{(x,z) ~ D_model}[ -r_phi(x, z) log p_theta(x | z) ] + beta E_{(x,z) ~ D_pre}[ -log p_theta(x | z) ]
 *
 * For a diffusion model -log p_theta(x | z) is replaced by its usual bound, the per-sample denoising
 * loss l_theta(x, z) (Ho et al. 2020, L_simple; models/denoising_loss.ts) with the pretraining
 * scheduler, so each model-generated image's denoising loss is weighted by its reward:
 *
 *   L = mean_i( w_i l_theta(x_i, z_i) ) + beta mean_j( l_theta(x_j, z_j) ),   i in the D_model batch, j in the D_pre batch.
 *
 * Both batches go through the UNet in one forward pass.
 */
import { type DenoisingDraw, denoisingLoss, drawDenoising } from '../models/denoising_loss.js';
import type { DDPMScheduler } from '../models/scheduler_ddpm.js';
import type { UNet2DConditionModel } from '../models/unet.js';
import { cat, type Generator, type Tensor, tensor, tidy } from '../torch/index.js';

/** A D_model batch: images x0 [B, 3, H, W] in [-1, 1], text context [B, S, D], weights w [B] (rewards). */
export interface WeightedBatch {
  x0: Tensor;
  context: Tensor;
  weights: Tensor;
}

/** A D_pre batch: x0 [B, 3, H, W] in [-1, 1], context [B, S, D]. */
export interface PretrainBatch {
  x0: Tensor;
  context: Tensor;
}

export interface RewardWeightedLoss {
  /** scalar: modelTerm + beta preTerm */
  loss: Tensor;
  /** scalar: mean_i w_i l_i over the D_model batch */
  modelTerm: Tensor;
  /** scalar: mean_j l_j over the D_pre batch (0 without one) */
  preTerm: Tensor;
  /** [B_model] the unweighted per-sample denoising losses of the D_model batch */
  modelLosses: Tensor;
}

/**
 * The reward-weighted loss of one step. `draw` fixes t and eps for the concatenated batch
 * ([D_model; D_pre], tests and paired comparisons); otherwise they come from `generator`.
 * With beta = 0 the D_pre batch is not run at all.
 */
export function rewardWeightedLoss(
  unet: UNet2DConditionModel,
  scheduler: DDPMScheduler,
  model: WeightedBatch,
  pre: PretrainBatch | null,
  beta: number,
  o: { generator?: Generator; draw?: DenoisingDraw } = {},
): RewardWeightedLoss {
  if (!(beta >= 0)) throw new Error(`rewardWeightedLoss: beta must be >= 0, got ${beta}`);
  const Bm = model.x0.size(0);
  if (model.weights.ndim !== 1 || model.weights.size(0) !== Bm) {
    throw new Error(`rewardWeightedLoss: expected weights [${Bm}], got [${model.weights.shape}]`);
  }
  return tidy(() => {
    const usePre = pre !== null && beta > 0 && pre.x0.size(0) > 0;
    const x0 = usePre ? cat([model.x0, pre.x0], 0) : model.x0;
    const context = usePre ? cat([model.context, pre.context], 0) : model.context;
    const draw = o.draw ?? drawDenoising(scheduler, x0, o.generator);
    if (draw.timesteps.size(0) !== x0.size(0))
      throw new Error(
        `rewardWeightedLoss: draw is for ${draw.timesteps.size(0)} samples, batch has ${x0.size(0)}`,
      );
    const losses = denoisingLoss(unet, scheduler, x0, context, { draw });
    const modelLosses = usePre ? losses.slice(0, 0, Bm) : losses;
    const modelTerm = modelLosses
      .mul(model.weights.to({ dtype: losses.dtype, device: losses.device }))
      .mean();
    const preTerm = usePre ? losses.slice(0, Bm).mean() : tensor(0, { device: losses.device });
    const loss = usePre ? modelTerm.add(preTerm.mul(beta)) : modelTerm;
    return { loss, modelTerm, preTerm, modelLosses };
  });
}
