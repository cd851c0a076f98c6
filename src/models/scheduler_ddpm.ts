/**
 * DDPM noise schedule (Ho et al. 2020), as diffusers' DDPMScheduler: owns the forward process
 * q(x_t | x_0) used for training, and the ancestral reverse step.
 */
import { type Generator, randn, type Tensor, tensor } from '../torch/index.js';

export type BetaSchedule = 'linear' | 'scaled_linear';
export type PredictionType = 'epsilon' | 'v_prediction';

export interface SchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  prediction_type: PredictionType;
  /** Clamp predicted x_0 to [-1, 1] while sampling (pixel-space models). */
  clip_sample: boolean;
  /**
   * Dynamic thresholding (Imagen; diffusers' `thresholding`): per sample, s = the
   * `dynamic_thresholding_ratio` quantile of |x_0|, clamped to [1, sample_max_value]; x_0 is
   * clamped to [-s, s] and divided by s. Applied instead of clip_sample when true.
   */
  thresholding?: boolean;
  dynamic_thresholding_ratio?: number;
  sample_max_value?: number;
  /** DDIM: alpha_bar of the step after the last is 1 (true) or alpha_bar_0 (false). */
  set_alpha_to_one: boolean;
  steps_offset: number;
}

/**
 * The sprite world's noise schedule. v-prediction, not epsilon: with epsilon the small UNet's
 * predictions ignored the caption at high noise (t >= 600: the same loss with the right caption,
 * a wrong one or none at step 2,750), so backgrounds did not follow the prompt and x_0 read from
 * eps at t ~ 950 was amplified ~100x into saturated colors. At high noise v is about -x_0, so
 * the caption's content is what the loss asks for there (docs/models.md).
 */
export const WORLD_SCHEDULER_CONFIG: SchedulerConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  prediction_type: 'v_prediction',
  clip_sample: true,
  set_alpha_to_one: true,
  steps_offset: 0,
};

/**
 * Dynamic thresholding of predicted x_0 [B, ...] (Saharia et al. 2022, as diffusers'
 * `_threshold_sample`): s_b = quantile_ratio(|x0_b|) clamped to [1, maxValue];
 * x0_b <- clamp(x0_b, -s_b, s_b) / s_b.
 */
export function dynamicThreshold(x0: Tensor, ratio: number, maxValue: number): Tensor {
  const B = x0.size(0);
  const flat = x0.reshape(B, -1);
  const n = flat.size(1);
  const k = Math.min(n, Math.max(1, Math.ceil(ratio * n)));
  // the k-th smallest |x| per sample (the "lower" quantile)
  const s = flat
    .abs()
    .sort(1)
    .values.narrow(1, k - 1, 1)
    .clamp(1, maxValue);
  return flat.maximum(s.neg()).minimum(s).div(s).reshape(x0.shape);
}

/** beta_t for t = 0..T-1: linear, or linear in sqrt(beta) ("scaled_linear", Stable Diffusion). */
export function makeBetas(
  c: Pick<SchedulerConfig, 'num_train_timesteps' | 'beta_start' | 'beta_end' | 'beta_schedule'>,
): Float64Array {
  const T = c.num_train_timesteps;
  const betas = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    const f = T === 1 ? 0 : i / (T - 1);
    if (c.beta_schedule === 'linear') betas[i] = c.beta_start + f * (c.beta_end - c.beta_start);
    else if (c.beta_schedule === 'scaled_linear') {
      const s = Math.sqrt(c.beta_start) + f * (Math.sqrt(c.beta_end) - Math.sqrt(c.beta_start));
      betas[i] = s * s;
    } else
      throw new Error(
        `unknown beta schedule "${String(c.beta_schedule)}" (expected linear or scaled_linear)`,
      );
  }
  return betas;
}

/** alpha_bar_t = prod_{s<=t} (1 - beta_s). */
export function cumprodAlphas(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let p = 1;
  for (let i = 0; i < betas.length; i++) {
    p *= 1 - betas[i]!;
    out[i] = p;
  }
  return out;
}

export function validateSchedulerConfig(c: Partial<SchedulerConfig>): SchedulerConfig {
  const merged = { ...WORLD_SCHEDULER_CONFIG, ...c };
  if (merged.beta_schedule !== 'linear' && merged.beta_schedule !== 'scaled_linear') {
    throw new Error(
      `unknown beta schedule "${String(merged.beta_schedule)}" (expected linear or scaled_linear)`,
    );
  }
  if (merged.prediction_type !== 'epsilon' && merged.prediction_type !== 'v_prediction') {
    throw new Error(
      `unknown prediction type "${String(merged.prediction_type)}" (expected epsilon or v_prediction)`,
    );
  }
  return merged;
}

export class DDPMScheduler {
  readonly config: SchedulerConfig;
  readonly betas: Float64Array;
  readonly alphasCumprod: Float64Array;
  #acpTensor: Map<string, Tensor> = new Map();

  constructor(config: Partial<SchedulerConfig> = {}) {
    this.config = validateSchedulerConfig(config);
    this.betas = makeBetas(this.config);
    this.alphasCumprod = cumprodAlphas(this.betas);
  }

  /** alpha_bar as a float32 tensor on `device` (cached). */
  alphasCumprodTensor(device = 'cpu'): Tensor {
    let t = this.#acpTensor.get(device);
    if (!t) {
      t = tensor(Array.from(this.alphasCumprod), { device }).to('float32');
      t.kept = true;
      this.#acpTensor.set(device, t);
    }
    return t;
  }

  /** Per-sample sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t), shaped [B, 1, 1, 1] for broadcasting. */
  #coefs(timesteps: Tensor, like: Tensor): [Tensor, Tensor] {
    const acp = this.alphasCumprodTensor(like.device).indexSelect(
      0,
      timesteps.to({ dtype: 'int64', device: like.device }),
    );
    const shape = [acp.size(0), ...new Array(like.ndim - 1).fill(1)];
    return [
      acp.sqrt().reshape(shape).to({ dtype: like.dtype }),
      acp.rsub(1).sqrt().reshape(shape).to({ dtype: like.dtype }),
    ];
  }

  /** x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps (Ho et al. eq. 4). x0, noise [B, ...], timesteps [B] int. */
  addNoise(x0: Tensor, noise: Tensor, timesteps: Tensor): Tensor {
    const [a, s] = this.#coefs(timesteps, x0);
    return x0.mul(a).add(noise.mul(s));
  }

  /** v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0 (Salimans & Ho 2022), the v-prediction target. */
  getVelocity(x0: Tensor, noise: Tensor, timesteps: Tensor): Tensor {
    const [a, s] = this.#coefs(timesteps, x0);
    return noise.mul(a).sub(x0.mul(s));
  }

  /** The regression target of the model: eps or v. */
  target(x0: Tensor, noise: Tensor, timesteps: Tensor): Tensor {
    return this.config.prediction_type === 'epsilon' ? noise : this.getVelocity(x0, noise, timesteps);
  }

  /**
   * One ancestral step x_t -> x_{t-1} (Ho et al. eq. 7 with sigma_t^2 = beta~_t), all samples at the same t.
   * Returns the new sample and the predicted x_0.
   */
  step(
    modelOutput: Tensor,
    t: number,
    sample: Tensor,
    generator?: Generator,
  ): { prevSample: Tensor; predOriginalSample: Tensor } {
    const acp = this.alphasCumprod[t]!;
    const acpPrev = t > 0 ? this.alphasCumprod[t - 1]! : 1;
    const beta = 1 - acp / acpPrev;
    // 1. predicted x_0 (eq. 15)
    let x0 =
      this.config.prediction_type === 'epsilon'
        ? sample.sub(modelOutput.mul(Math.sqrt(1 - acp))).div(Math.sqrt(acp))
        : sample.mul(Math.sqrt(acp)).sub(modelOutput.mul(Math.sqrt(1 - acp)));
    if (this.config.clip_sample) x0 = x0.clamp(-1, 1);
    // 2. posterior mean mu~_t(x_t, x_0) (eq. 7)
    const c0 = (Math.sqrt(acpPrev) * beta) / (1 - acp);
    const ct = (Math.sqrt(1 - beta) * (1 - acpPrev)) / (1 - acp);
    let prev = x0.mul(c0).add(sample.mul(ct));
    // 3. add sigma_t z with sigma_t^2 = beta~_t
    if (t > 0) {
      const variance = Math.max(((1 - acpPrev) / (1 - acp)) * beta, 1e-20);
      const z = randn(sample.shape, { generator, device: sample.device, dtype: sample.dtype });
      prev = prev.add(z.mul(Math.sqrt(variance)));
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
