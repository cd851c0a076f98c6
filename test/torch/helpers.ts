import assert from 'node:assert/strict';
import { type DType, fromTypedArray, type Tensor } from '../../src/torch/index.js';

/** Device the engine tests run on: T2I_TEST_DEVICE=cuda runs them on the GPU. */
export const DEVICE = process.env['T2I_TEST_DEVICE'] ?? 'cpu';

export interface Encoded {
  shape: number[];
  dtype: DType;
  data: number[];
}

export function decode(e: Encoded): Tensor {
  if (e.dtype === 'int64')
    return fromTypedArray(
      BigInt64Array.from(e.data, (x) => BigInt(x)),
      e.shape,
      { device: DEVICE },
    );
  if (e.dtype === 'float64') return fromTypedArray(Float64Array.from(e.data), e.shape, { device: DEVICE });
  return fromTypedArray(Float32Array.from(e.data), e.shape, { device: DEVICE, dtype: e.dtype });
}

/** Asserts shape equality and |a - b| <= atol + rtol |b| elementwise. */
export function assertClose(
  actual: Tensor,
  expected: Encoded | number[],
  o: { atol?: number; rtol?: number; shape?: number[] } = {},
  what = '',
): void {
  const atol = o.atol ?? 1e-5;
  const rtol = o.rtol ?? 1e-4;
  const exp = Array.isArray(expected) ? expected : expected.data;
  const shape = Array.isArray(expected) ? o.shape : expected.shape;
  if (shape) assert.deepEqual(actual.shape, shape, `${what}: shape`);
  const got = actual.toArray();
  assert.equal(got.length, exp.length, `${what}: element count`);
  for (let i = 0; i < got.length; i++) {
    const tol = atol + rtol * Math.abs(exp[i]!);
    if (!(Math.abs(got[i]! - exp[i]!) <= tol)) {
      assert.fail(`${what}: element ${i}: got ${got[i]}, expected ${exp[i]} (tolerance ${tol})`);
    }
  }
}
