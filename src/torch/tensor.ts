/**
 * Tensor: a thin, typed wrapper over a libtorch tensor, with PyTorch's semantics and camelCase names.
 *
 * Memory is part of the contract (as in tfjs):
 *  - `t.dispose()` frees a tensor now;
 *  - `tidy(fn)` disposes every tensor created inside `fn` except those it returns (or `keep()`s);
 *  - a finalizer frees what was neither, once V8 collects it (native bytes are reported to V8).
 *
 * ```ts
 * const loss = tidy(() => net.forward(x).sub(x).square().mean()); // intermediates freed here
 * ```
 */
import { availableParallelism } from 'node:os';
import { type GeneratorHandle, type Handle, native } from './native.js';

export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8';
/** `cpu`, `cuda` or `cuda:N`. */
export type Device = string;
export type Reduction = 'mean' | 'sum' | 'none';

export type TypedArrayOf =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array;

const DTYPES: ReadonlySet<string> = new Set([
  'float32',
  'float16',
  'bfloat16',
  'float64',
  'int64',
  'int32',
  'bool',
  'uint8',
]);

export function isDType(s: string): s is DType {
  return DTYPES.has(s);
}

export function isFloatingDType(d: DType): boolean {
  return d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';
}

// ---------------------------------------------------------------------------------------------
// Scopes

type Scope = Tensor[];
const scopes: Scope[] = [];

function track(t: Tensor): void {
  const s = scopes[scopes.length - 1];
  if (s) s.push(t);
}

/** Tensors found in a value returned from a tidy() scope (a tensor, or arrays/objects of them). */
function collect(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (value instanceof Tensor) out.add(value);
  else if (depth < 4 && Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (
    depth < 4 &&
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    for (const v of Object.values(value)) collect(v, out, depth + 1);
  }
}

/**
 * Runs `fn` in a memory scope: every tensor created inside is disposed when it returns, except the
 * tensors in its result (a Tensor, or arrays / plain objects of them), which move to the enclosing
 * scope, and those marked with keep(). `fn` must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = [];
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) if (!t.kept) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise)
    throw new Error('tidy(): the function must be synchronous (it returned a Promise)');
  const survivors = new Set<Tensor>();
  collect(result, survivors);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (survivors.has(t)) {
      if (parent) parent.push(t);
    } else if (!t.kept) t.dispose();
  }
  return result;
}

/** Exempts a tensor from every tidy() scope: it lives until dispose() or garbage collection. */
export function keep<T extends Tensor>(t: T): T {
  t.kept = true;
  return t;
}

/** Disposes every tensor found in `value` (a tensor, or arrays / plain objects of them). */
export function dispose(value: unknown): void {
  const found = new Set<Tensor>();
  collect(value, found);
  for (const t of found) t.dispose();
}

/** Number of native tensor handles alive (created and not yet freed). The leak tests watch it. */
export function liveTensors(): number {
  return native.liveTensors() as number;
}

// ---------------------------------------------------------------------------------------------
// Library state

export function libtorchVersion(): string {
  return native.version() as string;
}
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setNumThreads: expected a positive integer, got ${n}`);
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads() as number;
}
/** Seeds libtorch's global generator (used where no Generator is passed, e.g. dropout). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}
export function cudaDeviceCount(): number {
  return native.cudaDeviceCount() as number;
}
export function cudaIsAvailable(): boolean {
  return cudaDeviceCount() > 0;
}
/** Waits until queued CUDA kernels finish (for timing). A no-op without CUDA. */
export function cudaSynchronize(): void {
  native.cudaSynchronize();
}

/**
 * Returns memory that the allocator holds but no tensor uses to the operating system (glibc's
 * malloc_trim). Resident-set readings taken after it show what is really retained.
 */
export function releaseCachedMemory(): void {
  native.releaseCachedMemory();
}

// Threads default to the machine's cores (T2I_THREADS overrides).
setNumThreads(Number(process.env['T2I_THREADS']) || availableParallelism());

// ---------------------------------------------------------------------------------------------
// Autograd switches

export function isGradEnabled(): boolean {
  return native.isGradEnabled() as boolean;
}
/** Runs `fn` with gradient tracking off (as torch.no_grad()). `fn` must be synchronous. */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false) as boolean;
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

// ---------------------------------------------------------------------------------------------
// Generator

/** A seeded random-number generator. Draws happen on the CPU, so a seed gives the same numbers on every device. */
export class Generator {
  readonly handle: GeneratorHandle;
  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new Error(`Generator: seed must be a non-negative integer, got ${seed}`);
    this.handle = native.newGenerator(seed);
  }
  /** The generator's state as a uint8 tensor (save it to resume a run). */
  getState(): Tensor {
    return new Tensor(native.generatorGetState(this.handle));
  }
  setState(state: Tensor): void {
    native.generatorSetState(this.handle, state.handle);
  }
}

// ---------------------------------------------------------------------------------------------
// Op codes shared with native/src/addon.cc

const U = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  rsqrt: 4,
  sin: 5,
  cos: 6,
  abs: 7,
  tanh: 8,
  sigmoid: 9,
  relu: 10,
  silu: 11,
  gelu: 12,
  geluTanh: 13,
  square: 14,
  floor: 15,
  round: 16,
  sign: 17,
  logicalNot: 18,
  reciprocal: 19,
  erf: 20,
  log1p: 21,
  expm1: 22,
  ceil: 23,
  isnan: 24,
  atan: 25,
} as const;
const B = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  maximum: 5,
  minimum: 6,
  eq: 7,
  ne: 8,
  lt: 9,
  le: 10,
  gt: 11,
  ge: 12,
  logicalAnd: 13,
  logicalOr: 14,
  remainder: 15,
  atan2: 16,
  floorDivide: 17,
} as const;
const R = { sum: 0, mean: 1, amax: 2, amin: 3, prod: 4, norm: 5, all: 6, any: 7, logsumexp: 8 } as const;

type Operand = Tensor | number | boolean;
const h = (x: Operand): Handle | number | boolean => (x instanceof Tensor ? x.handle : x);
const dimsArg = (dim: number | number[] | undefined): number[] | null =>
  dim === undefined ? null : Array.isArray(dim) ? dim : [dim];
/** A large end for slice(): libtorch clamps it to the dimension's size. */
const END = Number.MAX_SAFE_INTEGER;

export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

// ---------------------------------------------------------------------------------------------
// Tensor

export class Tensor {
  #handle: Handle;
  #shape: number[] | undefined;
  /** Set by keep(): tidy() scopes leave this tensor alone. */
  kept = false;

  /** Wraps a native handle. Not for user code: use the creation functions. */
  constructor(handle: Handle) {
    this.#handle = handle;
    track(this);
  }

  get handle(): Handle {
    return this.#handle;
  }

  /** Swaps the native tensor behind this object (used by Module.to() so references stay valid). */
  replaceWith(other: Tensor): void {
    if (other === this) return;
    native.dispose(this.#handle);
    this.#handle = other.#handle;
    this.#shape = undefined;
    other.kept = true; // the handle now belongs to `this`
  }

  get shape(): number[] {
    if (this.#shape === undefined) this.#shape = native.shape(this.#handle) as number[];
    return this.#shape.slice();
  }
  get ndim(): number {
    return this.shape.length;
  }
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? s.length + dim : dim;
    if (d < 0 || d >= s.length) throw new Error(`size(${dim}): tensor has ${s.length} dimensions`);
    return s[d]!;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return (native.tensorInfo(this.#handle) as { dtype: DType }).dtype;
  }
  get device(): Device {
    return (native.tensorInfo(this.#handle) as { device: string }).device;
  }
  get requiresGrad(): boolean {
    return (native.tensorInfo(this.#handle) as { requiresGrad: boolean }).requiresGrad;
  }
  get isDisposed(): boolean {
    return native.isDisposed(this.#handle) as boolean;
  }
  /** Frees the native tensor now. Using it afterwards throws. Safe to call twice. */
  dispose(): void {
    native.dispose(this.#handle);
  }
  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // --- conversion -----------------------------------------------------------------------------
  to(target: { dtype?: DType; device?: Device } | DType | Device): Tensor {
    const spec =
      typeof target === 'string' ? (isDType(target) ? { dtype: target } : { device: target }) : target;
    return new Tensor(native.to(this.#handle, spec.dtype ?? null, spec.device ?? null, false));
  }
  float(): Tensor {
    return this.to({ dtype: 'float32' });
  }
  long(): Tensor {
    return this.to({ dtype: 'int64' });
  }
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }
  clone(): Tensor {
    return new Tensor(native.clone(this.#handle));
  }
  contiguous(): Tensor {
    return new Tensor(native.contiguous(this.#handle));
  }
  detach(): Tensor {
    return new Tensor(native.detach(this.#handle));
  }
  /** The elements, copied into a typed array of the tensor's dtype (float16/bfloat16: raw Uint16Array). */
  toTypedArray(): TypedArrayOf {
    const buf = native.toBuffer(this.#handle) as ArrayBuffer;
    switch (this.dtype) {
      case 'float32':
        return new Float32Array(buf);
      case 'float64':
        return new Float64Array(buf);
      case 'int32':
        return new Int32Array(buf);
      case 'int64':
        return new BigInt64Array(buf);
      case 'uint8':
      case 'bool':
        return new Uint8Array(buf);
      case 'float16':
      case 'bfloat16':
        return new Uint16Array(buf);
    }
  }
  /** The elements as a Float32Array (converted from any dtype). */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return new Float32Array(native.toBuffer(this.#handle) as ArrayBuffer);
    const f = new Tensor(native.to(this.#handle, 'float32', null, false));
    try {
      return new Float32Array(native.toBuffer(f.handle) as ArrayBuffer);
    } finally {
      f.dispose();
    }
  }
  /** The elements as plain numbers, flat. */
  toArray(): number[] {
    if (this.dtype === 'int64') return Array.from(this.toTypedArray() as BigInt64Array, Number);
    if (
      this.dtype === 'float64' ||
      this.dtype === 'int32' ||
      this.dtype === 'uint8' ||
      this.dtype === 'bool'
    ) {
      return Array.from(this.toTypedArray() as Float64Array);
    }
    return Array.from(this.toFloat32Array());
  }
  /** The single element of a one-element tensor. */
  item(): number {
    const v = native.item(this.#handle) as number | boolean;
    return typeof v === 'boolean' ? Number(v) : v;
  }

  // --- elementwise ------------------------------------------------------------------------------
  #u(op: number): Tensor {
    return new Tensor(native.unary(op, this.#handle));
  }
  #b(op: number, other: Operand): Tensor {
    return new Tensor(native.binary(op, this.#handle, h(other)));
  }
  neg(): Tensor {
    return this.#u(U.neg);
  }
  exp(): Tensor {
    return this.#u(U.exp);
  }
  log(): Tensor {
    return this.#u(U.log);
  }
  log1p(): Tensor {
    return this.#u(U.log1p);
  }
  expm1(): Tensor {
    return this.#u(U.expm1);
  }
  sqrt(): Tensor {
    return this.#u(U.sqrt);
  }
  rsqrt(): Tensor {
    return this.#u(U.rsqrt);
  }
  sin(): Tensor {
    return this.#u(U.sin);
  }
  cos(): Tensor {
    return this.#u(U.cos);
  }
  atan(): Tensor {
    return this.#u(U.atan);
  }
  abs(): Tensor {
    return this.#u(U.abs);
  }
  tanh(): Tensor {
    return this.#u(U.tanh);
  }
  sigmoid(): Tensor {
    return this.#u(U.sigmoid);
  }
  relu(): Tensor {
    return this.#u(U.relu);
  }
  silu(): Tensor {
    return this.#u(U.silu);
  }
  /** GELU; `approximate: 'tanh'` for the tanh form. */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return this.#u(approximate === 'tanh' ? U.geluTanh : U.gelu);
  }
  square(): Tensor {
    return this.#u(U.square);
  }
  floor(): Tensor {
    return this.#u(U.floor);
  }
  ceil(): Tensor {
    return this.#u(U.ceil);
  }
  round(): Tensor {
    return this.#u(U.round);
  }
  sign(): Tensor {
    return this.#u(U.sign);
  }
  reciprocal(): Tensor {
    return this.#u(U.reciprocal);
  }
  erf(): Tensor {
    return this.#u(U.erf);
  }
  isnan(): Tensor {
    return this.#u(U.isnan);
  }
  logicalNot(): Tensor {
    return this.#u(U.logicalNot);
  }

  add(other: Operand): Tensor {
    return this.#b(B.add, other);
  }
  sub(other: Operand): Tensor {
    return this.#b(B.sub, other);
  }
  /** `scalar - this` */
  rsub(scalar: number): Tensor {
    return new Tensor(native.rsub(this.#handle, scalar));
  }
  mul(other: Operand): Tensor {
    return this.#b(B.mul, other);
  }
  div(other: Operand): Tensor {
    return this.#b(B.div, other);
  }
  floorDivide(other: Operand): Tensor {
    return this.#b(B.floorDivide, other);
  }
  remainder(other: Operand): Tensor {
    return this.#b(B.remainder, other);
  }
  pow(other: Operand): Tensor {
    return this.#b(B.pow, other);
  }
  atan2(other: Tensor): Tensor {
    return this.#b(B.atan2, other);
  }
  maximum(other: Operand): Tensor {
    return this.#b(B.maximum, other);
  }
  minimum(other: Operand): Tensor {
    return this.#b(B.minimum, other);
  }
  eq(other: Operand): Tensor {
    return this.#b(B.eq, other);
  }
  ne(other: Operand): Tensor {
    return this.#b(B.ne, other);
  }
  lt(other: Operand): Tensor {
    return this.#b(B.lt, other);
  }
  le(other: Operand): Tensor {
    return this.#b(B.le, other);
  }
  gt(other: Operand): Tensor {
    return this.#b(B.gt, other);
  }
  ge(other: Operand): Tensor {
    return this.#b(B.ge, other);
  }
  logicalAnd(other: Tensor): Tensor {
    return this.#b(B.logicalAnd, other);
  }
  logicalOr(other: Tensor): Tensor {
    return this.#b(B.logicalOr, other);
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return new Tensor(native.clamp(this.#handle, min ?? null, max ?? null));
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return new Tensor(native.maskedFill(this.#handle, mask.handle, value));
  }
  triu(diagonal = 0): Tensor {
    return new Tensor(native.triu(this.#handle, diagonal));
  }
  tril(diagonal = 0): Tensor {
    return new Tensor(native.tril(this.#handle, diagonal));
  }

  // --- in place (optimizers, EMA, buffers) ------------------------------------------------------
  add_(other: Tensor | number, alpha = 1): this {
    native.binaryInplace(B.add, this.#handle, h(other), alpha);
    return this;
  }
  sub_(other: Tensor | number, alpha = 1): this {
    native.binaryInplace(B.sub, this.#handle, h(other), alpha);
    return this;
  }
  mul_(other: Tensor | number): this {
    native.binaryInplace(B.mul, this.#handle, h(other));
    return this;
  }
  div_(other: Tensor | number): this {
    native.binaryInplace(B.div, this.#handle, h(other));
    return this;
  }
  copy_(src: Tensor): this {
    native.copy_(this.#handle, src.handle);
    return this;
  }
  zero_(): this {
    native.zero_(this.#handle);
    return this;
  }
  fill_(value: number): this {
    native.fill_(this.#handle, value);
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    native.clamp_(this.#handle, min ?? null, max ?? null);
    return this;
  }
  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    native.addcmul_(this.#handle, t1.handle, t2.handle, value);
    return this;
  }
  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    native.addcdiv_(this.#handle, t1.handle, t2.handle, value);
    return this;
  }
  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this {
    native.lerp_(this.#handle, end.handle, weight);
    return this;
  }

  // --- reductions -------------------------------------------------------------------------------
  sum(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native.reduce(R.sum, this.#handle, dimsArg(dim), keepdim));
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native.reduce(R.mean, this.#handle, dimsArg(dim), keepdim));
  }
  amax(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native.reduce(R.amax, this.#handle, dimsArg(dim), keepdim));
  }
  amin(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native.reduce(R.amin, this.#handle, dimsArg(dim), keepdim));
  }
  prod(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.reduce(R.prod, this.#handle, dimsArg(dim), keepdim));
  }
  /** L2 norm over all elements or the given dims. */
  norm(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native.reduce(R.norm, this.#handle, dimsArg(dim), keepdim));
  }
  logsumexp(dim: number | number[], keepdim = false): Tensor {
    return new Tensor(native.reduce(R.logsumexp, this.#handle, dimsArg(dim), keepdim));
  }
  all(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.reduce(R.all, this.#handle, dimsArg(dim), keepdim));
  }
  any(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.reduce(R.any, this.#handle, dimsArg(dim), keepdim));
  }
  /** Variance; `unbiased` (default true) divides by n-1 as torch.var does. */
  var(dim?: number | number[], opts: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
    return new Tensor(
      native.var(this.#handle, dimsArg(dim), (opts.unbiased ?? true) ? 1 : 0, opts.keepdim ?? false),
    );
  }
  /** Maximum over everything (no dim) or along `dim` with its indices. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): ValuesIndices;
  max(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return this.amax();
    const [values, indices] = native.maxDim(this.#handle, dim, keepdim) as Handle[];
    return { values: new Tensor(values!), indices: new Tensor(indices!) };
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): ValuesIndices;
  min(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return this.amin();
    const [values, indices] = native.minDim(this.#handle, dim, keepdim) as Handle[];
    return { values: new Tensor(values!), indices: new Tensor(indices!) };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.argmax(this.#handle, dim ?? null, keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.argmin(this.#handle, dim ?? null, keepdim));
  }
  topk(k: number, dim = -1, largest = true, sorted = true): ValuesIndices {
    const [values, indices] = native.topk(this.#handle, k, dim, largest, sorted) as Handle[];
    return { values: new Tensor(values!), indices: new Tensor(indices!) };
  }
  sort(dim = -1, descending = false): ValuesIndices {
    const [values, indices] = native.sort(this.#handle, dim, descending) as Handle[];
    return { values: new Tensor(values!), indices: new Tensor(indices!) };
  }
  cumsum(dim: number): Tensor {
    return new Tensor(native.cumsum(this.#handle, dim));
  }

  // --- products ---------------------------------------------------------------------------------
  matmul(other: Tensor): Tensor {
    return new Tensor(native.matmul(this.#handle, other.handle));
  }
  bmm(other: Tensor): Tensor {
    return new Tensor(native.bmm(this.#handle, other.handle));
  }

  // --- shape ------------------------------------------------------------------------------------
  reshape(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.reshape(this.#handle, shape.flat()));
  }
  view(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.view(this.#handle, shape.flat()));
  }
  permute(...dims: number[] | [number[]]): Tensor {
    return new Tensor(native.permute(this.#handle, dims.flat()));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return new Tensor(native.transpose(this.#handle, dim0, dim1));
  }
  /** Transpose of a 2-D tensor. */
  get T(): Tensor {
    return this.transpose(0, 1);
  }
  expand(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.expand(this.#handle, shape.flat()));
  }
  repeat(...repeats: number[] | [number[]]): Tensor {
    return new Tensor(native.repeat(this.#handle, repeats.flat()));
  }
  repeatInterleave(repeats: number, dim: number): Tensor {
    return new Tensor(native.repeatInterleave(this.#handle, repeats, dim));
  }
  /** Elements start..end (exclusive) with a step along `dim`, as `t[start:end:step]`. Negative indices count from the end. */
  slice(dim: number, start = 0, end: number = END, step = 1): Tensor {
    return new Tensor(native.slice(this.#handle, dim, start, end, step));
  }
  /** Narrows `dim` to `length` elements from `start`. */
  narrow(dim: number, start: number, length: number): Tensor {
    return this.slice(dim, start, start + length);
  }
  /** `t.select(dim, i)` removes `dim`, as `t[..., i, ...]`. */
  select(dim: number, index: number): Tensor {
    return new Tensor(native.select(this.#handle, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(native.indexSelect(this.#handle, dim, index.handle));
  }
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(native.gather(this.#handle, dim, index.handle));
  }
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(native.scatter(this.#handle, dim, index.handle, src.handle));
  }
  maskedSelect(mask: Tensor): Tensor {
    return new Tensor(native.maskedSelect(this.#handle, mask.handle));
  }
  squeeze(dim?: number): Tensor {
    return new Tensor(native.squeeze(this.#handle, dim ?? null));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(native.unsqueeze(this.#handle, dim));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return new Tensor(native.flatten(this.#handle, startDim, endDim));
  }
  flip(...dims: number[]): Tensor {
    return new Tensor(native.flip(this.#handle, dims));
  }
  split(sizeOrSizes: number | number[], dim = 0): Tensor[] {
    return (native.split(this.#handle, sizeOrSizes, dim) as Handle[]).map((x) => new Tensor(x));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return (native.chunk(this.#handle, chunks, dim) as Handle[]).map((x) => new Tensor(x));
  }

  // --- autograd ---------------------------------------------------------------------------------
  /** Marks this tensor as a leaf that accumulates gradients. */
  requiresGrad_(flag = true): this {
    native.setRequiresGrad(this.#handle, flag);
    return this;
  }
  /** The accumulated gradient, or null before the first backward(). */
  get grad(): Tensor | null {
    const g = native.grad(this.#handle) as Handle | null;
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    native.setGrad(this.#handle, g === null ? null : g.handle);
  }
  /** Backpropagates from this tensor; `gradient` is required for non-scalars. */
  backward(gradient?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    native.backward(this.#handle, gradient ? gradient.handle : null, opts.retainGraph ?? false);
  }
}

// ---------------------------------------------------------------------------------------------
// Creation

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}
export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad_(true);
  return t;
}
const shapeOf = (shape: number | number[]): number[] => (typeof shape === 'number' ? [shape] : shape);

export function zeros(shape: number | number[], o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.zeros(shapeOf(shape), o.dtype ?? null, o.device ?? null)), o);
}
export function ones(shape: number | number[], o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.ones(shapeOf(shape), o.dtype ?? null, o.device ?? null)), o);
}
export function empty(shape: number | number[], o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.empty(shapeOf(shape), o.dtype ?? null, o.device ?? null)), o);
}
export function full(shape: number | number[], value: number, o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.full(shapeOf(shape), value, o.dtype ?? null, o.device ?? null)), o);
}
export function zerosLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return zeros(t.shape, {
    dtype: o.dtype ?? t.dtype,
    device: o.device ?? t.device,
    requiresGrad: o.requiresGrad,
  });
}
export function onesLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return ones(t.shape, {
    dtype: o.dtype ?? t.dtype,
    device: o.device ?? t.device,
    requiresGrad: o.requiresGrad,
  });
}
/** Values start, start+step, ... below end (float32 unless a dtype is given). */
export function arange(start: number, end?: number, step = 1, o: CreateOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  return finish(new Tensor(native.arange(s, e, step, o.dtype ?? 'float32', o.device ?? null)), o);
}
export function linspace(start: number, end: number, steps: number, o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.linspace(start, end, steps, o.dtype ?? null, o.device ?? null)), o);
}
/** Standard normal samples. Drawn on the CPU from `generator` (or the global one) and moved to `device`. */
export function randn(shape: number | number[], o: RandomOptions = {}): Tensor {
  return finish(
    new Tensor(native.randn(shapeOf(shape), o.generator?.handle ?? null, o.dtype ?? null, o.device ?? null)),
    o,
  );
}
/** Uniform samples in [0, 1). */
export function rand(shape: number | number[], o: RandomOptions = {}): Tensor {
  return finish(
    new Tensor(native.rand(shapeOf(shape), o.generator?.handle ?? null, o.dtype ?? null, o.device ?? null)),
    o,
  );
}
/** Integers in [low, high) (int64 unless a dtype is given). */
export function randint(low: number, high: number, shape: number | number[], o: RandomOptions = {}): Tensor {
  return new Tensor(
    native.randint(low, high, shapeOf(shape), o.generator?.handle ?? null, o.dtype ?? null, o.device ?? null),
  );
}
/** A random permutation of 0..n-1 (int64, CPU). */
export function randperm(n: number, o: { generator?: Generator } = {}): Tensor {
  return new Tensor(native.randperm(n, o.generator?.handle ?? null));
}

function dtypeOfArray(a: TypedArrayOf): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Uint8Array) return 'uint8';
  throw new Error('fromTypedArray: a Uint16Array needs an explicit dtype (float16 or bfloat16)');
}

/**
 * A tensor holding a copy of `data` with `shape` (default: 1-D). The dtype follows the array type
 * (Float32Array -> float32, BigInt64Array -> int64, ...); a Uint16Array holds raw float16/bfloat16 bits.
 */
export function fromTypedArray(data: TypedArrayOf, shape?: number[], o: CreateOptions = {}): Tensor {
  const dtype = o.dtype ?? dtypeOfArray(data);
  return finish(new Tensor(native.fromBuffer(data, dtype, shape ?? [data.length], o.device ?? null)), o);
}

/** A tensor from raw little-endian bytes of `dtype` (safetensors loading). */
export function fromBytes(bytes: Uint8Array, dtype: DType, shape: number[], o: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.fromBuffer(bytes, dtype, shape, o.device ?? null)), o);
}

/** The raw bytes of a tensor (contiguous, CPU copy). */
export function toBytes(t: Tensor): Uint8Array {
  return new Uint8Array(native.toBuffer(t.handle) as ArrayBuffer);
}

type Nested = number | boolean | Nested[];
/** A tensor from (nested) JS numbers, like torch.tensor. float32 unless a dtype is given. */
export function tensor(values: Nested, o: CreateOptions = {}): Tensor {
  const shape: number[] = [];
  let v: Nested = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0] as Nested;
  }
  const flat: (number | boolean)[] = [];
  const walk = (x: Nested): void => {
    if (Array.isArray(x)) for (const y of x) walk(y);
    else flat.push(x);
  };
  walk(values);
  const expected = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== expected)
    throw new Error(
      `tensor(): ragged nested array (shape [${shape}] needs ${expected} values, got ${flat.length})`,
    );
  const dtype = o.dtype ?? 'float32';
  const nums = flat.map(Number);
  let data: TypedArrayOf;
  if (dtype === 'int64') data = BigInt64Array.from(nums, (x) => BigInt(Math.trunc(x)));
  else if (dtype === 'int32') data = Int32Array.from(nums);
  else if (dtype === 'uint8' || dtype === 'bool') data = Uint8Array.from(nums);
  else if (dtype === 'float64') data = Float64Array.from(nums);
  else data = Float32Array.from(nums);
  const t = new Tensor(
    native.fromBuffer(data, dtype === 'float16' || dtype === 'bfloat16' ? 'float32' : dtype, shape, null),
  );
  if (dtype === 'float16' || dtype === 'bfloat16' || o.device) {
    const moved = t.to({ dtype, device: o.device });
    t.dispose();
    return finish(moved, o);
  }
  return finish(t, o);
}

// ---------------------------------------------------------------------------------------------
// Free functions over several tensors

export function cat(tensors: Tensor[], dim = 0): Tensor {
  return new Tensor(
    native.cat(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return new Tensor(
    native.stack(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}
/** `condition ? a : b`, elementwise with broadcasting. */
export function where(condition: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  return new Tensor(native.where(condition.handle, h(a), h(b)));
}
export function einsum(equation: string, ...tensors: Tensor[]): Tensor {
  return new Tensor(
    native.einsum(
      equation,
      tensors.map((t) => t.handle),
    ),
  );
}
export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}
export function bmm(a: Tensor, b: Tensor): Tensor {
  return a.bmm(b);
}
