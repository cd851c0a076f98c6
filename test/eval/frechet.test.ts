/**
 * The Fréchet distance (src/eval/frechet.ts) against closed forms:
 *   - diagonal covariances: FD = |mu_1 - mu_2|^2 + sum_i (s1_i - s2_i)^2 (s: standard deviations);
 *   - 2 x 2 covariances that do not commute: Tr sqrt(S_1 S_2) = sqrt(Tr(S_1 S_2) + 2 sqrt(det S_1 det S_2)),
 *     since S_1 S_2 has non-negative eigenvalues l_1, l_2 and (sqrt l_1 + sqrt l_2)^2 = l_1 + l_2 + 2 sqrt(l_1 l_2);
 *   - features drawn from known Gaussians.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { featureStats, frechetDistance, frechetDistanceOfFeatures } from '../../src/eval/frechet.js';
import { Generator, randn, setNumThreads, tensor, tidy } from '../../src/torch/index.js';

setNumThreads(1);

const stats = (mu: number[], sigma: number[]) => ({
  mu: Float64Array.from(mu),
  sigma: Float64Array.from(sigma),
  dim: mu.length,
});

test('diagonal covariances: FD = |mu_1 - mu_2|^2 + sum (s1 - s2)^2', () => {
  // mu (0, 0) vs (1, 2); std (1, 2) vs (2, 3): 5 + (1 + 1) = 7
  assert.ok(Math.abs(frechetDistance(stats([0, 0], [1, 0, 0, 4]), stats([1, 2], [4, 0, 0, 9])) - 7) < 1e-9);
  // 6 dimensions: variances 1..6 against 4 x (1..6), i.e. std s against 2s: sum s^2 = 21, means equal
  const d = 6;
  const diag = (f: number) =>
    Array.from({ length: d * d }, (_, k) => (k % (d + 1) === 0 ? f * (k / (d + 1) + 1) : 0));
  const zeros = new Array<number>(d).fill(0);
  assert.ok(Math.abs(frechetDistance(stats(zeros, diag(1)), stats(zeros, diag(4))) - 21) < 1e-9);
});

test('non-commuting 2 x 2 covariances: the trace term matches the closed form, and FD is symmetric', () => {
  const s1 = [2, 0.9, 0.9, 1];
  const s2 = [0.5, -0.2, -0.2, 3];
  const mu1 = [0.3, -1];
  const mu2 = [0, 0.5];
  // Tr(S1 S2) and the determinants by hand
  const trProd = s1[0]! * s2[0]! + s1[1]! * s2[2]! + s1[2]! * s2[1]! + s1[3]! * s2[3]!; // 3.64
  const det1 = s1[0]! * s1[3]! - s1[1]! * s1[2]!; // 1.19
  const det2 = s2[0]! * s2[3]! - s2[1]! * s2[2]!; // 1.46
  const trSqrt = Math.sqrt(trProd + 2 * Math.sqrt(det1 * det2));
  const expected = (mu1[0]! - mu2[0]!) ** 2 + (mu1[1]! - mu2[1]!) ** 2 + (2 + 1) + (0.5 + 3) - 2 * trSqrt;
  // 2.34 + 6.5 - 2 sqrt(3.64 + 2 sqrt(1.7374)) = 3.8295272 (numpy: eigenvalues of S1 S2 give the same)
  assert.ok(Math.abs(expected - 3.8295272) < 1e-6, `${expected}`);
  const a = stats(mu1, s1);
  const b = stats(mu2, s2);
  assert.ok(Math.abs(frechetDistance(a, b) - expected) < 1e-9, `${frechetDistance(a, b)} vs ${expected}`);
  assert.ok(Math.abs(frechetDistance(b, a) - expected) < 1e-9);
  assert.ok(Math.abs(frechetDistance(a, a)) < 1e-9);
});

test('featureStats gives the unbiased mean and covariance; FD of samples of known Gaussians', () => {
  tidy(() => {
    const s = featureStats(
      tensor([
        [1, 2],
        [3, 2],
        [5, 8],
      ]),
    );
    assert.deepEqual([...s.mu], [3, 4]);
    // deviations (-2, -2), (0, -2), (2, 4): S = [[8, 12], [12, 24]] / 2
    assert.deepEqual([...s.sigma], [4, 6, 6, 12]);
    const g = new Generator(1);
    const x = randn([4000, 3], { generator: g });
    const y = randn([4000, 3], { generator: g });
    assert.ok(frechetDistanceOfFeatures(x, y) < 0.02);
    // a shift by 1 in each of 3 dimensions: |shift|^2 = 3
    assert.ok(Math.abs(frechetDistanceOfFeatures(x, y.add(1)) - 3) < 0.15);
    // scaling by 2: per dimension (1 - 2)^2 = 1, so 3
    assert.ok(Math.abs(frechetDistanceOfFeatures(x, y.mul(2)) - 3) < 0.15);
  });
});

test('fewer samples than dimensions (singular covariance) still gives a finite FD', () => {
  tidy(() => {
    const g = new Generator(2);
    const fd = frechetDistanceOfFeatures(randn([5, 16], { generator: g }), randn([40, 16], { generator: g }));
    assert.ok(Number.isFinite(fd) && fd > 0, `${fd}`);
  });
  assert.throws(() => tidy(() => featureStats(tensor([[1, 2]]))), /n >= 2/);
});
