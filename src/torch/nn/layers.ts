/**
 * Standard layers with PyTorch's parameter names and default initialisation
 * (kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
 */
import * as F from '../functional.js';
import { type Generator, ones, rand, randn, type Tensor, tidy, zeros } from '../tensor.js';
import { Module } from './module.js';

/** U(-bound, bound) of `shape`, seeded by `generator` (or libtorch's global generator). */
function uniform(shape: number[], bound: number, generator?: Generator): Tensor {
  return tidy(() =>
    rand(shape, { generator })
      .mul(2 * bound)
      .sub(bound),
  );
}

export interface InitOptions {
  generator?: Generator;
}

/** y = x W^T + b; weight [out, in], bias [out]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    o: InitOptions & { bias?: boolean } = {},
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter('weight', uniform([outFeatures, inFeatures], bound, o.generator));
    this.bias =
      (o.bias ?? true) ? this.registerParameter('bias', uniform([outFeatures], bound, o.generator)) : null;
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

/** 2-D convolution; weight [out, in/groups, k, k]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly o: InitOptions & { stride?: number; padding?: number; groups?: number; bias?: boolean } = {},
  ) {
    super();
    const groups = o.groups ?? 1;
    if (inChannels % groups || outChannels % groups)
      throw new Error(`Conv2d: channels ${inChannels}->${outChannels} not divisible by groups ${groups}`);
    const fanIn = (inChannels / groups) * kernelSize * kernelSize;
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = this.registerParameter(
      'weight',
      uniform([outChannels, inChannels / groups, kernelSize, kernelSize], bound, o.generator),
    );
    this.bias =
      (o.bias ?? true) ? this.registerParameter('bias', uniform([outChannels], bound, o.generator)) : null;
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, {
      stride: this.o.stride ?? 1,
      padding: this.o.padding ?? 0,
      groups: this.o.groups ?? 1,
    });
  }
}

export class GroupNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly eps = 1e-5,
  ) {
    super();
    if (numChannels % numGroups)
      throw new Error(`GroupNorm: ${numChannels} channels not divisible into ${numGroups} groups`);
    this.weight = this.registerParameter('weight', ones([numChannels]));
    this.bias = this.registerParameter('bias', zeros([numChannels]));
  }
  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly normalizedShape: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.registerParameter('weight', ones([normalizedShape]));
    this.bias = this.registerParameter('bias', zeros([normalizedShape]));
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, [this.normalizedShape], this.weight, this.bias, this.eps);
  }
}

/** Lookup table [numEmbeddings, dim], initialised N(0, 1) as in PyTorch. */
export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    o: InitOptions & { std?: number } = {},
  ) {
    super();
    this.weight = this.registerParameter(
      'weight',
      normal([numEmbeddings, embeddingDim], o.std ?? 1, o.generator),
    );
  }
  forward(indices: Tensor): Tensor {
    return F.embedding(indices, this.weight);
  }
}

/** N(0, std^2) of `shape`. */
function normal(shape: number[], std: number, generator?: Generator): Tensor {
  return tidy(() => randn(shape, { generator }).mul(std));
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (p < 0 || p >= 1) throw new Error(`Dropout: p must be in [0, 1), got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

/** A module whose forward takes and returns one tensor (for Sequential). */
export interface UnaryModule extends Module {
  forward(x: Tensor): Tensor;
}

/** Applies a function as a module (activation layers inside Sequential). */
export class Lambda extends Module {
  constructor(readonly fn: (x: Tensor) => Tensor) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}

/** Children named "0", "1", ... applied in order. */
export class Sequential extends Module {
  readonly layers: UnaryModule[];
  constructor(...layers: UnaryModule[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => {
      this.registerModule(String(i), m);
    });
  }
  /**
   * Applies the layers in order. Each intermediate output is released as soon as the next layer has
   * consumed it (autograd keeps what backward needs), so memory is freed as early as in PyTorch.
   */
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) {
      const next = m.forward(y);
      if (y !== x && next !== y) y.dispose();
      y = next;
    }
    return y;
  }
}

/** A list of submodules named "0", "1", ... (as torch.nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.push(m);
  }
  push(m: M): void {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    const m = this.items[i];
    if (!m) throw new Error(`ModuleList: index ${i} out of range (length ${this.items.length})`);
    return m;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
