/** Bad inputs become JavaScript Errors carrying libtorch's message; none crashes the process. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { F, ones, randn, type Tensor, tensor, tidy, zeros } from '../../src/torch/index.js';

test('a shape mismatch in matmul throws with libtorch message', () => {
  const a = randn([2, 3]);
  const b = randn([4, 5]);
  assert.throws(() => a.matmul(b), /mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)/);
  // the process and the tensors are fine afterwards
  assert.deepEqual(a.matmul(randn([3, 5])).shape, [2, 5]);
});

test('using a disposed tensor throws', () => {
  const a = ones([2]);
  a.dispose();
  assert.equal(a.isDisposed, true);
  assert.throws(() => a.add(1), /tensor was disposed/);
  assert.throws(() => a.toArray(), /tensor was disposed/);
  a.dispose(); // twice is fine
});

test('a tensor used outside the tidy() that created it throws', () => {
  let leaked: Tensor | undefined;
  tidy(() => {
    leaked = ones([2]);
    return undefined;
  });
  assert.throws(() => leaked!.sum(), /tensor was disposed/);
});

test('wrong dtypes, devices and shapes throw clear errors', () => {
  assert.throws(() => zeros([2], { dtype: 'complex64' as never }), /unknown dtype "complex64"/);
  assert.throws(() => zeros([2], { device: 'tpu' }), /unknown device "tpu"/);
  assert.throws(
    () => F.embedding(tensor([0.5]), randn([3, 2])),
    /Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int/,
  );
  assert.throws(() => randn([2, 3]).view(4), /shape '\[4\]' is invalid for input of size 6/);
  assert.throws(() => tensor([[1, 2], [3]]), /ragged nested array/);
  assert.throws(() => randn([2]).item(), /tensor has 2 elements, expected 1/);
});
