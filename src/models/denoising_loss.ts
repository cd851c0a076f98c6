/**
 * The per-sample denoising loss, the diffusion model's stand-in for -log p(x|z) (Ho et al. 2020,
 * L_simple): l(x_0, c) = E_{t, eps} || f_theta(x_t, t, c) - target ||^2, averaged over pixels but
 * not over the batch, so that the reward-weighted fine-tuning can weight each sample (paper eq. 2).
 */
import { type Generator, randint, randn, type Tensor } from '../torch/index.js';
import type { DDPMScheduler } from './scheduler_ddpm.js';
import type { UNet2DConditionModel } from './unet.js';

export interface DenoisingDraw {
  /** int64 [B] */
  timesteps: Tensor;
  /** [B, C, H, W] */
  noise: Tensor;
}

/** Draws t ~ U{0..T-1} and eps ~ N(0, I) for a batch shaped like x0. */
export function drawDenoising(scheduler: DDPMScheduler, x0: Tensor, generator?: Generator): DenoisingDraw {
  const B = x0.size(0);
  return {
    timesteps: randint(0, scheduler.config.num_train_timesteps, [B], { generator, device: x0.device }),
    noise: randn(x0.shape, { generator, device: x0.device, dtype: x0.dtype }),
  };
}

/**
 * x0 [B, C, H, W] in [-1, 1], context [B, S, D] -> per-sample loss [B].
 * `draw` fixes t and eps (tests, paired comparisons); otherwise they are drawn from `generator`.
 */
export function denoisingLoss(
  unet: UNet2DConditionModel,
  scheduler: DDPMScheduler,
  x0: Tensor,
  context: Tensor,
  o: { generator?: Generator; draw?: DenoisingDraw } = {},
): Tensor {
  const { timesteps, noise } = o.draw ?? drawDenoising(scheduler, x0, o.generator);
  const xt = scheduler.addNoise(x0, noise, timesteps);
  const pred = unet.forward(xt, timesteps, context);
  const target = scheduler.target(x0, noise, timesteps);
  return pred.sub(target).square().mean([1, 2, 3]);
}
