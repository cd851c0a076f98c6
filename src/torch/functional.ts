/**
 * nn functional ops (torch.nn.functional), camelCase. Shapes follow PyTorch: images are [B, C, H, W],
 * sequences [B, L, D].
 */
import { native } from './native.js';
import { type Reduction, Tensor } from './tensor.js';

// ---------------------------------------------------------------------------------------------
// FLOP counting (benchmarks): conv2d, linear and attention record their multiply-adds x 2.

let flopCount: number | null = null;

/** Runs `fn` and returns its result with the floating-point operations of its conv2d, linear and attention calls. */
export function countFlops<T>(fn: () => T): { result: T; flops: number } {
  const outer = flopCount;
  flopCount = 0;
  try {
    const result = fn();
    return { result, flops: flopCount };
  } finally {
    flopCount = outer === null ? null : outer + (flopCount ?? 0);
  }
}

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** y = x W^T + b. x [..., in], weight [out, in], bias [out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (flopCount !== null) flopCount += 2 * prod(x.shape) * weight.size(0);
  return new Tensor(native.linear(x.handle, weight.handle, bias ? bias.handle : null));
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}
/** x [B, Cin, H, W], weight [Cout, Cin/groups, kH, kW]. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, o: Conv2dOptions = {}): Tensor {
  const y = new Tensor(
    native.conv2d(
      x.handle,
      weight.handle,
      bias ? bias.handle : null,
      pair(o.stride ?? 1),
      pair(o.padding ?? 0),
      pair(o.dilation ?? 1),
      o.groups ?? 1,
    ),
  );
  // 2 x (output elements) x (inputs per output: Cin/groups x kH x kW)
  if (flopCount !== null) flopCount += 2 * prod(y.shape) * prod(weight.shape.slice(1));
  return y;
}

/** Resizes [B, C, H, W] to `size`, or by `scaleFactor`. */
export function interpolate(
  x: Tensor,
  o: { size?: [number, number]; scaleFactor?: number; mode?: 'nearest' | 'bilinear'; alignCorners?: boolean },
): Tensor {
  const [, , H, W] = x.shape as [number, number, number, number];
  let size = o.size;
  if (!size) {
    if (!o.scaleFactor) throw new Error('interpolate: give size or scaleFactor');
    size = [Math.floor(H * o.scaleFactor), Math.floor(W * o.scaleFactor)];
  }
  return new Tensor(native.interpolate(x.handle, size, o.mode ?? 'nearest', o.alignCorners ?? false));
}

export function avgPool2d(
  x: Tensor,
  kernel: number | [number, number],
  stride?: number | [number, number],
  padding: number | [number, number] = 0,
): Tensor {
  return new Tensor(native.avgPool2d(x.handle, pair(kernel), pair(stride ?? kernel), pair(padding)));
}
export function maxPool2d(
  x: Tensor,
  kernel: number | [number, number],
  stride?: number | [number, number],
  padding: number | [number, number] = 0,
): Tensor {
  return new Tensor(native.maxPool2d(x.handle, pair(kernel), pair(stride ?? kernel), pair(padding)));
}

/** GroupNorm over [B, C, ...] with `numGroups` groups. */
export function groupNorm(
  x: Tensor,
  numGroups: number,
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  return new Tensor(
    native.groupNorm(x.handle, numGroups, weight ? weight.handle : null, bias ? bias.handle : null, eps),
  );
}
/** LayerNorm over the trailing `normalizedShape` dims. */
export function layerNorm(
  x: Tensor,
  normalizedShape: number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  return new Tensor(
    native.layerNorm(
      x.handle,
      normalizedShape,
      weight ? weight.handle : null,
      bias ? bias.handle : null,
      eps,
    ),
  );
}
/** Rows of `weight` [V, D] picked by int64 `indices` [...] -> [..., D]. */
export function embedding(indices: Tensor, weight: Tensor): Tensor {
  return new Tensor(native.embedding(weight.handle, indices.handle));
}
/** Inverted dropout (scales kept values by 1/(1-p)); identity when `training` is false. */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  if (!training || p === 0) return x;
  return new Tensor(native.dropout(x.handle, p, training));
}

export function relu(x: Tensor): Tensor {
  return x.relu();
}
export function silu(x: Tensor): Tensor {
  return x.silu();
}
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return x.gelu(approximate);
}
/** CLIP's quick_gelu: x * sigmoid(1.702 x). */
export function quickGelu(x: Tensor): Tensor {
  const s = x.mul(1.702);
  const g = s.sigmoid();
  s.dispose();
  const y = x.mul(g);
  g.dispose();
  return y;
}
export function softmax(x: Tensor, dim: number): Tensor {
  return new Tensor(native.softmax(x.handle, dim));
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return new Tensor(native.logSoftmax(x.handle, dim));
}
/** Cross-entropy of logits [B, C] against int64 class indices [B]. */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  o: { reduction?: Reduction; labelSmoothing?: number } = {},
): Tensor {
  return new Tensor(
    native.crossEntropy(logits.handle, target.handle, o.reduction ?? 'mean', o.labelSmoothing ?? 0),
  );
}
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return new Tensor(native.mseLoss(input.handle, target.handle, reduction));
}
/** Constant padding; `pads` as torch.nn.functional.pad (last dim first: [left, right, top, bottom]). */
export function pad(x: Tensor, pads: number[], value = 0): Tensor {
  return new Tensor(native.pad(x.handle, pads, value));
}

/**
 * softmax(q k^T / sqrt(d) + mask) v. q [..., L, D], k and v [..., S, D]. `mask` is boolean (true =
 * attend) or additive. libtorch's fused kernel where the version has one (2.x), matmul + softmax on 1.13.
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: { mask?: Tensor; isCausal?: boolean } = {},
): Tensor {
  // q k^T and (softmax) v: 2 L S D each, per batch and head
  if (flopCount !== null)
    flopCount += 2 * prod(q.shape) * k.size(-2) + 2 * prod(q.shape.slice(0, -1)) * k.size(-2) * v.size(-1);
  return new Tensor(
    native.scaledDotProductAttention(
      q.handle,
      k.handle,
      v.handle,
      o.mask ? o.mask.handle : null,
      o.isCausal ?? false,
    ),
  );
}
