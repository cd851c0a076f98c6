/**
 * The prompt-classification loss of the paper (eq. 1): for an image x, its true prompt z_0 and N
 * perturbed prompts z_1..z_N (Algorithm 2),
 *
 *   P_phi(i | x, {z_j}) = exp(r(x, z_i) / T) / sum_j exp(r(x, z_j) / T)
 *   L_pc = E[ CE(P_phi(. | x, {z_j}), 0) ] = E[ logsumexp_j(r_j / T) - r_0 / T ]
 *
 * with the true prompt as class 0, as in Algorithm 1 (`labels = [0] * batch_size`).
 */
import { type Tensor, tidy } from '../torch/index.js';

/**
 * Per-image cross-entropy of the true prompt: scores [B, 1 + N] (column 0 = r(x, z_true)) -> [B].
 */
export function promptClassificationCE(scores: Tensor, temperature: number): Tensor {
  if (!(temperature > 0))
    throw new Error(`promptClassificationLoss: temperature must be > 0, got ${temperature}`);
  if (scores.ndim !== 2 || scores.size(1) < 2) {
    throw new Error(
      `promptClassificationLoss: expected scores [B, 1 + N] with N >= 1, got [${scores.shape}]`,
    );
  }
  return tidy(() => {
    const logits = scores.div(temperature);
    return logits.logsumexp(1).sub(logits.select(1, 0));
  });
}

/**
 * L_pc, the mean of the per-image cross-entropies, or with `weights` [B] their weighted mean
 * sum_i w_i CE_i / sum_i w_i (0 when every weight is 0). scores [B, 1 + N] -> scalar.
 */
export function promptClassificationLoss(scores: Tensor, temperature: number, weights?: Tensor): Tensor {
  return tidy(() => {
    const ce = promptClassificationCE(scores, temperature);
    if (!weights) return ce.mean();
    return ce.mul(weights).sum().div(weights.sum().clamp(1e-12));
  });
}
