/**
 * Optimizers (Adam, AdamW with decoupled weight decay, SGD), gradient-norm clipping, learning-rate
 * schedules and an exponential moving average of parameters. The update kernels run natively and
 * follow torch.optim's single-tensor implementations step for step.
 */
import { native } from './native.js';
import { keep, noGrad, type Tensor, zerosLike } from './tensor.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** State that an optimizer saves to resume: tensors by name plus scalars. */
export interface OptimizerState {
  tensors: Record<string, Tensor>;
  scalars: Record<string, number>;
}

class AdamBase {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  stepCount = 0;
  readonly expAvg: Tensor[];
  readonly expAvgSq: Tensor[];
  constructor(
    readonly params: Tensor[],
    o: AdamOptions,
    defaultWeightDecay: number,
    readonly decoupled: boolean,
  ) {
    this.lr = o.lr ?? 1e-3;
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? defaultWeightDecay;
    this.expAvg = noGrad(() => params.map((p) => keep(zerosLike(p))));
    this.expAvgSq = noGrad(() => params.map((p) => keep(zerosLike(p))));
  }
  /** Applies one update from the accumulated gradients (parameters without a gradient are skipped). */
  step(): void {
    this.stepCount++;
    native.adamStep(
      this.params.map((p) => p.handle),
      this.expAvg.map((t) => t.handle),
      this.expAvgSq.map((t) => t.handle),
      this.stepCount,
      this.lr,
      this.betas[0],
      this.betas[1],
      this.eps,
      this.weightDecay,
      this.decoupled,
    );
  }
  /** Clears gradients (sets them to None, as PyTorch 2 does by default). */
  zeroGrad(): void {
    native.zeroGrad(
      this.params.map((p) => p.handle),
      true,
    );
  }
  stateDict(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    this.expAvg.forEach((t, i) => {
      tensors[`exp_avg.${i}`] = t;
    });
    this.expAvgSq.forEach((t, i) => {
      tensors[`exp_avg_sq.${i}`] = t;
    });
    return { tensors, scalars: { step: this.stepCount, lr: this.lr } };
  }
  loadStateDict(s: OptimizerState): void {
    noGrad(() => {
      this.expAvg.forEach((t, i) => {
        t.copy_(need(s.tensors, `exp_avg.${i}`));
      });
      this.expAvgSq.forEach((t, i) => {
        t.copy_(need(s.tensors, `exp_avg_sq.${i}`));
      });
    });
    this.stepCount = s.scalars['step'] ?? 0;
    if (s.scalars['lr'] !== undefined) this.lr = s.scalars['lr'];
  }
  dispose(): void {
    for (const t of [...this.expAvg, ...this.expAvgSq]) t.dispose();
  }
}

function need(m: Record<string, Tensor>, k: string): Tensor {
  const t = m[k];
  if (!t) throw new Error(`optimizer state: missing tensor ${k}`);
  return t;
}

/** Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient, as torch.optim.Adam. */
export class Adam extends AdamBase {
  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, o, 0, false);
  }
}

/** AdamW (Loshchilov & Hutter 2019): decoupled weight decay p -= lr * wd * p, as torch.optim.AdamW (default wd 0.01). */
export class AdamW extends AdamBase {
  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, o, 0.01, true);
  }
}

/** SGD with optional momentum, dampening, Nesterov and L2 weight decay, as torch.optim.SGD. */
export class SGD {
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly buffers: Tensor[];
  stepCount = 0;
  constructor(
    readonly params: Tensor[],
    o: { lr?: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean } = {},
  ) {
    this.lr = o.lr ?? 1e-2;
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.nesterov = o.nesterov ?? false;
    this.buffers = noGrad(() => params.map((p) => keep(zerosLike(p))));
  }
  step(): void {
    native.sgdStep(
      this.params.map((p) => p.handle),
      this.buffers.map((b) => b.handle),
      this.lr,
      this.momentum,
      this.dampening,
      this.weightDecay,
      this.nesterov,
      this.stepCount === 0,
    );
    this.stepCount++;
  }
  zeroGrad(): void {
    native.zeroGrad(
      this.params.map((p) => p.handle),
      true,
    );
  }
}

/** Scales gradients so that their global L2 norm is at most `maxNorm`; returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return native.clipGradNorm(
    params.map((p) => p.handle),
    maxNorm,
  ) as number;
}

/** Learning-rate multiplier: linear warmup from 0 to 1 over `warmup` steps, then constant. */
export function constantWithWarmup(step: number, warmup: number): number {
  return warmup > 0 && step < warmup ? (step + 1) / warmup : 1;
}

/** Learning-rate multiplier: linear warmup, then cosine decay to `minRatio` at `total` steps. */
export function cosineWithWarmup(step: number, warmup: number, total: number, minRatio = 0): number {
  if (warmup > 0 && step < warmup) return (step + 1) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** Exponential moving average of parameters: shadow = decay * shadow + (1 - decay) * param. */
export class EMA {
  readonly shadow: Tensor[];
  constructor(
    readonly params: Tensor[],
    readonly decay = 0.999,
  ) {
    this.shadow = noGrad(() => params.map((p) => keep(p.detach().clone())));
  }
  update(decay = this.decay): void {
    native.emaUpdate(
      this.shadow.map((s) => s.handle),
      this.params.map((p) => p.handle),
      decay,
    );
  }
  /** Copies the averaged weights into `targets` (same order as the tracked parameters). */
  copyTo(targets: Tensor[]): void {
    if (targets.length !== this.shadow.length)
      throw new Error(`EMA.copyTo: ${targets.length} targets for ${this.shadow.length} tensors`);
    noGrad(() => {
      targets.forEach((t, i) => {
        t.copy_(this.shadow[i]!);
      });
    });
  }
  dispose(): void {
    for (const s of this.shadow) s.dispose();
  }
}
