/**
 * DDIM sampler (Song et al. 2021), as diffusers' DDIMScheduler: a chosen number of steps over the
 * DDPM training schedule, eta = 0 deterministic, eta = 1 DDPM-like.
 */
import { cat, type Generator, randn, type Tensor } from '../torch/index.js';
import {
  cumprodAlphas,
  dynamicThreshold,
  makeBetas,
  type SchedulerConfig,
  validateSchedulerConfig,
} from './scheduler_ddpm.js';

export class DDIMScheduler {
  readonly config: SchedulerConfig;
  readonly alphasCumprod: Float64Array;
  readonly finalAlphaCumprod: number;
  timesteps: number[] = [];
  numInferenceSteps = 0;

  constructor(config: Partial<SchedulerConfig> = {}) {
    this.config = validateSchedulerConfig(config);
    this.alphasCumprod = cumprodAlphas(makeBetas(this.config));
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.alphasCumprod[0]!;
  }

  /** "leading" spacing: t_i = i * (T / n) + steps_offset, descending. */
  setTimesteps(n: number): void {
    const T = this.config.num_train_timesteps;
    if (!Number.isInteger(n) || n < 1 || n > T)
      throw new Error(`DDIM: number of steps must be an integer in [1, ${T}], got ${n}`);
    const ratio = Math.floor(T / n);
    this.numInferenceSteps = n;
    this.timesteps = Array.from(
      { length: n },
      (_, i) => Math.round(i * ratio) + this.config.steps_offset,
    ).reverse();
  }

  /**
   * One DDIM update x_t -> x_{t_prev} (Song et al. eq. 12), the same t for the whole batch.
   * eta scales the noise: sigma_t = eta sqrt((1 - a_prev)/(1 - a_t)) sqrt(1 - a_t/a_prev).
   * `generators` gives one generator per sample (so an image does not depend on its batch); they
   * are only used when eta > 0.
   */
  step(
    modelOutput: Tensor,
    t: number,
    sample: Tensor,
    o: { eta?: number; generators?: Generator[] } = {},
  ): { prevSample: Tensor; predOriginalSample: Tensor } {
    const eta = o.eta ?? 0;
    // 1. previous step (= t - T/n)
    const prevT = t - Math.floor(this.config.num_train_timesteps / this.numInferenceSteps);
    // 2. alphas and betas
    const a = this.alphasCumprod[t]!;
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
    const b = 1 - a;
    // 3. predicted x_0 and eps ("predicted x_0" of eq. 12)
    let x0: Tensor;
    let eps: Tensor;
    if (this.config.prediction_type === 'epsilon') {
      eps = modelOutput;
      x0 = sample.sub(eps.mul(Math.sqrt(b))).div(Math.sqrt(a));
    } else {
      x0 = sample.mul(Math.sqrt(a)).sub(modelOutput.mul(Math.sqrt(b)));
      eps = modelOutput.mul(Math.sqrt(a)).add(sample.mul(Math.sqrt(b)));
    }
    // 4. clamp x_0, then recompute eps from the clamped x_0 (otherwise the direction term re-injects
    //    the clipped-away part and every sample keeps visible noise)
    if (this.config.thresholding) {
      x0 = dynamicThreshold(
        x0,
        this.config.dynamic_thresholding_ratio ?? 0.995,
        this.config.sample_max_value ?? 1,
      );
      eps = sample.sub(x0.mul(Math.sqrt(a))).div(Math.sqrt(b));
    } else if (this.config.clip_sample) {
      x0 = x0.clamp(-1, 1);
      eps = sample.sub(x0.mul(Math.sqrt(a))).div(Math.sqrt(b));
    }
    // 5. sigma_t (eq. 16)
    const variance = ((1 - aPrev) / b) * (1 - a / aPrev);
    const std = eta * Math.sqrt(Math.max(variance, 0));
    // 6. "direction pointing to x_t" (eq. 12)
    const direction = eps.mul(Math.sqrt(Math.max(1 - aPrev - std * std, 0)));
    // 7. x_{t-1}
    let prev = x0.mul(Math.sqrt(aPrev)).add(direction);
    if (std > 0) {
      const B = sample.size(0);
      const per = sample.shape.slice(1);
      const gens = o.generators;
      if (gens && gens.length !== B) throw new Error(`DDIM: ${gens.length} generators for a batch of ${B}`);
      const noise = gens
        ? stackNoise(per, gens, sample)
        : randn(sample.shape, { device: sample.device, dtype: sample.dtype });
      prev = prev.add(noise.mul(std));
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }
}

/** One [1, ...per] draw from each generator, concatenated to [B, ...per]. */
function stackNoise(per: number[], gens: Generator[], like: Tensor): Tensor {
  return cat(
    gens.map((g) => randn([1, ...per], { generator: g, device: like.device, dtype: like.dtype })),
    0,
  );
}
