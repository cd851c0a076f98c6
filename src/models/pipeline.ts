/**
 * Text-to-image pipeline (inference only): prompts -> frozen text encoder -> DDIM loop with
 * classifier-free guidance -> images in [0, 1]. The model only predicts; the scheduler owns the maths.
 *
 * Every image has its own seed: its starting noise (and, with eta > 0, its step noise) comes from a
 * generator seeded by it, so the same seed gives the same image whatever the batch.
 */
import { cat, full, Generator, noGrad, randn, type Tensor, tidy } from '../torch/index.js';
import { DDIMScheduler } from './scheduler_ddim.js';
import type { SchedulerConfig } from './scheduler_ddpm.js';
import type { UNet2DConditionModel } from './unet.js';

/** What the pipeline needs of a text encoder: per-token hidden states used as cross-attention context. */
export interface TextEncoder {
  /** prompts -> [B, S, D] (CLIP's last hidden state, as Stable Diffusion uses). */
  encode(prompts: string[]): Tensor;
}

export interface SamplerSettings {
  /** DDIM steps */
  steps: number;
  /** classifier-free guidance scale w: eps = eps_u + w (eps_c - eps_u); 1 disables guidance */
  guidance: number;
  /** DDIM eta (0 = deterministic) */
  eta: number;
}

export const DEFAULT_SAMPLER: SamplerSettings = { steps: 25, guidance: 5, eta: 0 };

export interface GenerateOptions extends Partial<SamplerSettings> {
  /** one seed per prompt */
  seeds: number[];
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export class TextToImagePipeline {
  constructor(
    readonly unet: UNet2DConditionModel,
    readonly textEncoder: TextEncoder,
    readonly schedulerConfig: Partial<SchedulerConfig>,
    readonly device = 'cpu',
  ) {}

  /** prompts[i] with seeds[i] -> images [N, C, H, W] in [0, 1] (float32, CPU). */
  generate(prompts: string[], o: GenerateOptions): Tensor {
    if (prompts.length !== o.seeds.length)
      throw new Error(`generate: ${prompts.length} prompts but ${o.seeds.length} seeds`);
    const s = { ...DEFAULT_SAMPLER, ...o };
    const batch = o.batchSize ?? 64;
    const outs: Tensor[] = [];
    const scheduler = new DDIMScheduler(this.schedulerConfig);
    scheduler.setTimesteps(s.steps);
    const total = prompts.length * s.steps;
    let done = 0;
    const wasTraining = this.unet.training;
    this.unet.eval();
    try {
      for (let i = 0; i < prompts.length; i += batch) {
        const p = prompts.slice(i, i + batch);
        const seeds = o.seeds.slice(i, i + batch);
        outs.push(
          noGrad(() =>
            tidy(() =>
              this.#sampleBatch(p, seeds, scheduler, s, () => {
                done++;
                o.onProgress?.(done, total);
              }),
            ),
          ),
        );
      }
    } finally {
      this.unet.train(wasTraining);
    }
    const images = cat(outs, 0);
    for (const t of outs) t.dispose();
    return images;
  }

  #sampleBatch(
    prompts: string[],
    seeds: number[],
    scheduler: DDIMScheduler,
    s: SamplerSettings,
    tick: () => void,
  ): Tensor {
    const c = this.unet.config;
    const size = c.sample_size;
    const B = prompts.length;
    const generators = seeds.map((seed) => new Generator(seed));
    let x = cat(
      generators.map((g) => randn([1, c.in_channels, size, size], { generator: g, device: this.device })),
      0,
    );
    const guided = s.guidance !== 1;
    const cond = this.textEncoder.encode(prompts);
    // unconditional ("") and conditional halves in one batch
    const context = guided ? cat([this.textEncoder.encode(new Array(B).fill('')), cond], 0) : cond;
    for (const t of scheduler.timesteps) {
      const next = tidy(() => {
        const input = guided ? cat([x, x], 0) : x;
        const tt = full([1], t, { device: this.device });
        const out = this.unet.forward(input, tt, context);
        let eps = out;
        if (guided) {
          const [u, cnd] = out.chunk(2, 0) as [Tensor, Tensor];
          eps = u.add(cnd.sub(u).mul(s.guidance));
        }
        return scheduler.step(eps, t, x, { eta: s.eta, generators }).prevSample;
      });
      x.dispose();
      x = next;
      tick();
    }
    return x.add(1).mul(0.5).clamp(0, 1).to({ device: 'cpu', dtype: 'float32' });
  }
}
