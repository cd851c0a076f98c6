/**
 * Fréchet distance between two sets of image features (Heusel et al. 2017, the "FID" formula), the
 * sprite world's stand-in for the paper's FID on MS-COCO (Table 3) when the features are world-CLIP
 * image embeddings:
 *
 *   FD = |mu_1 - mu_2|^2 + Tr(S_1) + Tr(S_2) - 2 Tr( (S_1^{1/2} S_2 S_1^{1/2})^{1/2} )
 *
 * Tr((S_1 S_2)^{1/2}) is computed as Tr((S_1^{1/2} S_2 S_1^{1/2})^{1/2}): the two matrices are similar,
 * and the second one is symmetric positive semi-definite, so both square roots are the symmetric
 * eigen-decomposition ones (torch linalg.ts). Everything runs in float64.
 *
 * The evaluation (evaluate.ts) reports FD between world-CLIP image embeddings of a model's evaluation
 * images and of renders of held-out corpus captions (reference.ts); bench/method.ts uses it too.
 */
import { fromTypedArray, sqrtmSymmetric, type Tensor, tidy } from '../torch/index.js';

export interface FeatureStats {
  /** [P] */
  mu: Float64Array;
  /** [P, P] row-major, unbiased (divides by n - 1) */
  sigma: Float64Array;
  dim: number;
}

/** Mean and covariance of features [n, P] (n >= 2). */
export function featureStats(features: Tensor): FeatureStats {
  if (features.ndim !== 2 || features.size(0) < 2)
    throw new Error(`featureStats: expected features [n >= 2, P], got [${features.shape}]`);
  const n = features.size(0);
  const dim = features.size(1);
  return tidy(() => {
    const x = features.to({ dtype: 'float64', device: 'cpu' });
    const mu = x.mean(0);
    const xc = x.sub(mu.unsqueeze(0));
    const sigma = xc.T.matmul(xc).div(n - 1);
    return { mu: mu.toTypedArray() as Float64Array, sigma: sigma.toTypedArray() as Float64Array, dim };
  });
}

function trace(m: Float64Array, dim: number): number {
  let t = 0;
  for (let i = 0; i < dim; i++) t += m[i * dim + i]!;
  return t;
}

/** FD between the Gaussians N(mu_1, S_1) and N(mu_2, S_2). */
export function frechetDistance(a: FeatureStats, b: FeatureStats): number {
  if (a.dim !== b.dim) throw new Error(`frechetDistance: ${a.dim}- and ${b.dim}-dimensional features`);
  const P = a.dim;
  let d2 = 0;
  for (let i = 0; i < P; i++) d2 += (a.mu[i]! - b.mu[i]!) ** 2;
  const covMean = tidy(() => {
    const s1 = fromTypedArray(a.sigma, [P, P]);
    const s2 = fromTypedArray(b.sigma, [P, P]);
    const r1 = sqrtmSymmetric(s1);
    const inner = r1.matmul(s2).matmul(r1);
    return trace(sqrtmSymmetric(inner).toTypedArray() as Float64Array, P);
  });
  return d2 + trace(a.sigma, P) + trace(b.sigma, P) - 2 * covMean;
}

/** FD between two feature sets [n, P] and [m, P]. */
export function frechetDistanceOfFeatures(a: Tensor, b: Tensor): number {
  return frechetDistance(featureStats(a), featureStats(b));
}
