/**
 * Module: PyTorch's nn.Module in TypeScript. Parameters, buffers and submodules are registered by
 * name, so `stateDict()` keys are dotted paths that match PyTorch's state_dict naming
 * (`down_blocks.0.resnets.0.conv1.weight`). Parameters and buffers are kept out of tidy() scopes.
 */
import { type Device, type DType, isFloatingDType, keep, noGrad, type Tensor } from '../tensor.js';

export interface LoadResult {
  missing: string[];
  unexpected: string[];
  mismatched: { key: string; expected: number[]; got: number[] }[];
}

export class StateDictError extends Error {
  constructor(
    message: string,
    readonly result: LoadResult,
  ) {
    super(message);
    this.name = 'StateDictError';
  }
}

export class Module {
  training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #modules = new Map<string, Module>();

  /** Registers a trainable tensor under `name` (it gets requiresGrad and leaves tidy scopes alone). */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.#checkName(name);
    if (!t.requiresGrad) t.requiresGrad_(true);
    this.#params.set(name, keep(t));
    return t;
  }
  /** Registers a non-trainable tensor saved in the state dict (e.g. position ids). */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.#checkName(name);
    this.#buffers.set(name, keep(t));
    return t;
  }
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.#checkName(name);
    this.#modules.set(name, m);
    return m;
  }
  #checkName(name: string): void {
    if (name === '' || name.includes('.')) throw new Error(`Module: invalid name "${name}"`);
    if (this.#params.has(name) || this.#buffers.has(name) || this.#modules.has(name)) {
      throw new Error(`Module: "${name}" is registered twice`);
    }
  }

  *namedChildren(): Generator<[string, Module]> {
    yield* this.#modules;
  }
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, m] of this.#modules) yield* m.namedModules(prefix ? `${prefix}.${name}` : name);
  }
  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [name, p] of this.#params) yield [prefix ? `${prefix}.${name}` : name, p];
    for (const [name, m] of this.#modules) yield* m.namedParameters(prefix ? `${prefix}.${name}` : name);
  }
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [name, b] of this.#buffers) yield [prefix ? `${prefix}.${name}` : name, b];
    for (const [name, m] of this.#modules) yield* m.namedBuffers(prefix ? `${prefix}.${name}` : name);
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }
  /** Number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }
  /** Parameters and buffers by dotted name. The tensors are the module's own (not copies). */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, v] of this.namedParameters()) out[k] = v;
    for (const [k, v] of this.namedBuffers()) out[k] = v;
    return out;
  }

  /**
   * Copies tensors from `sd` into this module's parameters and buffers (converted to each one's
   * dtype and device). In strict mode (default) any missing, unexpected or mis-shaped key throws a
   * StateDictError that names them all; otherwise those keys are skipped and reported.
   */
  loadStateDict(sd: Record<string, Tensor>, o: { strict?: boolean } = {}): LoadResult {
    const strict = o.strict ?? true;
    const own = this.stateDict();
    const result: LoadResult = { missing: [], unexpected: [], mismatched: [] };
    for (const key of Object.keys(own)) if (!(key in sd)) result.missing.push(key);
    for (const key of Object.keys(sd)) if (!(key in own)) result.unexpected.push(key);
    for (const [key, target] of Object.entries(own)) {
      const src = sd[key];
      if (!src) continue;
      const a = target.shape;
      const b = src.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i]))
        result.mismatched.push({ key, expected: a, got: b });
    }
    if (strict && (result.missing.length || result.unexpected.length || result.mismatched.length)) {
      const parts: string[] = [];
      if (result.missing.length) parts.push(`missing keys: ${result.missing.join(', ')}`);
      if (result.unexpected.length) parts.push(`unexpected keys: ${result.unexpected.join(', ')}`);
      if (result.mismatched.length) {
        parts.push(
          `shape mismatches: ${result.mismatched.map((m) => `${m.key} (expected [${m.expected}], got [${m.got}])`).join(', ')}`,
        );
      }
      throw new StateDictError(`loadStateDict: ${parts.join('; ')}`, result);
    }
    const bad = new Set(result.mismatched.map((m) => m.key));
    noGrad(() => {
      for (const [key, target] of Object.entries(own)) {
        const src = sd[key];
        if (!src || bad.has(key)) continue;
        const converted = src.to({ dtype: target.dtype, device: target.device });
        target.copy_(converted);
        if (converted !== src) converted.dispose();
      }
    });
    return result;
  }

  /** Sets training mode here and in every submodule (dropout reads it). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** Moves parameters and buffers to a device and/or floating dtype, in place (references stay valid). */
  to(o: { device?: Device; dtype?: DType }): this {
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        for (const map of [m.#params, m.#buffers]) {
          for (const t of map.values()) {
            const dtype = o.dtype && isFloatingDType(t.dtype) ? o.dtype : undefined;
            if (!dtype && !o.device) continue;
            const wasLeaf = t.requiresGrad;
            const moved = t.to({ dtype, device: o.device });
            t.replaceWith(moved);
            if (wasLeaf && !t.requiresGrad) t.requiresGrad_(true);
          }
        }
      }
    });
    return this;
  }
  /** Clears the gradients of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }
  /** Frees every parameter and buffer. The module is unusable afterwards. */
  dispose(): void {
    for (const t of Object.values(this.stateDict())) t.dispose();
  }
}
