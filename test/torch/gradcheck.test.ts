/**
 * Finite-difference gradient checks (float64, central differences) for the differentiable ops.
 * For f: R^n -> R (a random projection of the op's output), compare autograd's df/dx with
 * (f(x + h e_i) - f(x - h e_i)) / 2h on every input element.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cat,
  F,
  fromTypedArray,
  Generator,
  noGrad,
  randn,
  type Tensor,
  tensor,
  tidy,
} from '../../src/torch/index.js';
import { DEVICE } from './helpers.js';

const g = new Generator(42);
const r = (...shape: number[]): Tensor => randn(shape, { generator: g, dtype: 'float64', device: DEVICE });

function gradcheck(
  name: string,
  fn: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  eps = 1e-6,
  tol = 1e-6,
): void {
  test(`gradient of ${name} matches finite differences`, () => {
    tidy(() => {
      const xs = inputs.map((x) => x.clone().requiresGrad_());
      const out = fn(...xs);
      const proj = randn(out.shape, { generator: new Generator(1), dtype: 'float64', device: DEVICE });
      out.mul(proj).sum().backward();
      const f = (vals: Tensor[]): number =>
        noGrad(() =>
          tidy(() =>
            fn(...vals)
              .mul(proj)
              .sum()
              .item(),
          ),
        );
      xs.forEach((x, k) => {
        const analytic = x.grad!.toArray();
        const base = inputs[k]!.toArray();
        for (let i = 0; i < base.length; i++) {
          const plus = base.slice();
          const minus = base.slice();
          plus[i]! += eps;
          minus[i]! -= eps;
          const vals = inputs.map((t, j) => (j === k ? null : t));
          const mk = (arr: number[]) => tensorFrom(arr, inputs[k]!);
          const numeric =
            (f(vals.map((v) => v ?? mk(plus))) - f(vals.map((v) => v ?? mk(minus)))) / (2 * eps);
          const err = Math.abs(numeric - analytic[i]!);
          assert.ok(
            err <= tol + 1e-4 * Math.abs(numeric),
            `${name}: input ${k} element ${i}: autograd ${analytic[i]}, numeric ${numeric}`,
          );
        }
      });
    });
  });
}

function tensorFrom(values: number[], like: Tensor): Tensor {
  return fromTypedArray(Float64Array.from(values), like.shape, { device: DEVICE });
}

gradcheck(
  'elementwise mul/div/exp/log/sqrt',
  (a, b) =>
    a.mul(b).add(a.exp()).add(b.abs().add(1).log()).add(b.square().add(1).sqrt()).div(b.square().add(2)),
  [r(2, 3), r(2, 3)],
);
gradcheck('matmul', (a, b) => a.matmul(b), [r(3, 4), r(4, 2)]);
gradcheck('linear', (x, w, b) => F.linear(x, w, b), [r(3, 4), r(2, 4), r(2)]);
gradcheck(
  'conv2d (stride 2, padding 1, groups 2)',
  (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1, groups: 2 }),
  [r(1, 4, 5, 5), r(4, 2, 3, 3), r(4)],
);
gradcheck('groupNorm', (x, w, b) => F.groupNorm(x, 2, w, b), [r(2, 4, 3, 3), r(4), r(4)]);
gradcheck('layerNorm', (x, w, b) => F.layerNorm(x, [5], w, b), [r(3, 5), r(5), r(5)]);
gradcheck('softmax / logSoftmax', (x) => F.softmax(x, -1).add(F.logSoftmax(x, 0)), [r(3, 4)]);
gradcheck(
  'scaledDotProductAttention (causal)',
  (q, k, v) => F.scaledDotProductAttention(q, k, v, { isCausal: true }),
  [r(1, 2, 4, 3), r(1, 2, 4, 3), r(1, 2, 4, 3)],
);
gradcheck('gelu / silu / quickGelu', (x) => F.gelu(x).add(F.silu(x)).add(F.quickGelu(x)), [r(2, 5)]);
gradcheck('interpolate bilinear', (x) => F.interpolate(x, { size: [5, 7], mode: 'bilinear' }), [
  r(1, 2, 3, 4),
]);
gradcheck('avgPool2d', (x) => F.avgPool2d(x, 2), [r(1, 2, 4, 4)]);
gradcheck('mseLoss', (a, b) => F.mseLoss(a, b), [r(3, 4), r(3, 4)]);
gradcheck(
  'embedding (weight)',
  (w) =>
    F.embedding(
      longs([
        [1, 5, 2],
        [2, 0, 3],
      ]),
      w,
    ),
  [r(6, 3)],
);
gradcheck('crossEntropy', (x) => F.crossEntropy(x, longs([2, 0, 3])), [r(3, 4)]);
gradcheck('reductions sum/mean/var/amax', (x) => x.sum(1).add(x.mean(1)).add(x.var(1)).add(x.amax(1)), [
  r(3, 4),
]);
gradcheck(
  'shape ops cat/permute/slice/gather',
  (x) => {
    const y = x.permute(1, 0).slice(0, 1).reshape(-1);
    return cat([y, x.flatten().gather(0, longs([1, 11, 2, 2])), x.indexSelect(0, longs([2, 0])).flatten()]);
  },
  [r(3, 4)],
);

function longs(values: number[] | number[][]): Tensor {
  return tensor(values, { dtype: 'int64', device: DEVICE });
}
