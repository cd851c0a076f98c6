/** Linear algebra: eigh and a symmetric matrix square root built on it. */
import { type Handle, native } from './native.js';
import { Tensor, tidy } from './tensor.js';

/** Eigen-decomposition of a symmetric matrix [..., n, n]: ascending eigenvalues [..., n] and eigenvectors as columns. */
export function eigh(a: Tensor): { eigenvalues: Tensor; eigenvectors: Tensor } {
  const [w, v] = native.eigh(a.handle) as Handle[];
  return { eigenvalues: new Tensor(w!), eigenvectors: new Tensor(v!) };
}

/**
 * The principal square root of a symmetric positive semi-definite matrix: V diag(sqrt(max(w, 0))) V^T.
 * Eigenvalues below zero (round-off) are clamped to zero. Computed in float64.
 */
export function sqrtmSymmetric(a: Tensor): Tensor {
  return tidy(() => {
    const a64 = a.to({ dtype: 'float64' });
    const sym = a64.add(a64.T).mul(0.5);
    const { eigenvalues, eigenvectors } = eigh(sym);
    const s = eigenvalues.clamp(0).sqrt();
    return eigenvectors.mul(s.unsqueeze(0)).matmul(eigenvectors.T).to({ dtype: a.dtype });
  });
}
