/**
 * Rejection sampling with the learned reward (paper section "Results on reward learning",
 * Figure 6a): draw `candidates` images per prompt from the original model and keep the `keep` with
 * the highest reward r(x, z) (paper: best 4 of 16). More inference compute, no training.
 *
 * Candidate j of prompt i has seed `seed + i * candidates + j`, so candidates 0..keep-1 are a plain
 * random sample of the same model with known seeds (the paper's "4 random samples" baseline), and
 * any kept image can be redrawn alone with `t2i-align generate`.
 */
import { cat, type Tensor, tidy } from '../torch/index.js';

export interface Candidate {
  /** j: the candidate's position among its prompt's candidates */
  index: number;
  seed: number;
  reward: number;
}

export interface RejectionResult {
  promptIndex: number;
  prompt: string;
  /** every candidate, in drawing order */
  candidates: Candidate[];
  /** the kept candidates, best first (ties: the earlier candidate first) */
  kept: Candidate[];
  /** images of the kept candidates, [keep, 3, H, W] in [0, 1] (owned by the caller of onResult) */
  images: Tensor;
  /** with `firstImages: n`: candidates 0..n-1 in drawing order, [n, 3, H, W] (owned by the caller) */
  first?: Tensor;
}

/**
 * File name of image k of prompt i (`0007-3.png`): rejection samples (k = rank), their first
 * candidates (k = candidate) and evaluation images share it, so evaluation can reuse candidates.
 */
export function promptImageName(promptIndex: number, k: number): string {
  return `${String(promptIndex).padStart(4, '0')}-${k}.png`;
}

/** Seed of candidate j of prompt i. */
export function candidateSeed(seed: number, promptIndex: number, candidates: number, j: number): number {
  return seed + promptIndex * candidates + j;
}

/** Indices of the `keep` largest rewards, best first; ties keep drawing order. */
export function topK(rewards: ArrayLike<number>, keep: number): number[] {
  return Array.from({ length: rewards.length }, (_, i) => i)
    .sort((a, b) => rewards[b]! - rewards[a]! || a - b)
    .slice(0, keep);
}

/**
 * Runs rejection sampling over `prompts` (prompt i has index `promptIndices[i]`, default i), as many
 * prompts at a time as fit in `batchSize` candidates. `onResult` receives each prompt's result as soon
 * as it is done and must dispose `images`.
 */
export function rejectionSample(o: {
  prompts: readonly string[];
  promptIndices?: readonly number[];
  candidates: number;
  keep: number;
  seed: number;
  batchSize: number;
  /** prompts[i] with seeds[i] -> images [n, 3, H, W] in [0, 1] */
  generate: (prompts: string[], seeds: number[]) => Tensor;
  /** images [n, 3, H, W] in [0, 1], prompts[n] -> rewards [n] */
  reward: (images: Tensor, prompts: string[]) => ArrayLike<number>;
  onResult: (r: RejectionResult) => void;
  /** also hand over the first n candidates' images (the "n random samples" of the paper's comparison) */
  firstImages?: number;
}): void {
  const { candidates, keep } = o;
  if (!Number.isInteger(candidates) || candidates < 1)
    throw new Error(`candidates must be a positive integer, got ${candidates}`);
  if (!Number.isInteger(keep) || keep < 1 || keep > candidates)
    throw new Error(`keep must be an integer in 1..${candidates}, got ${keep}`);
  const per = Math.max(1, Math.floor(o.batchSize / candidates));
  for (let start = 0; start < o.prompts.length; start += per) {
    const chunk = o.prompts.slice(start, start + per);
    const indices = chunk.map((_, i) => o.promptIndices?.[start + i] ?? start + i);
    const prompts = chunk.flatMap((p) => new Array<string>(candidates).fill(p));
    const seeds = indices.flatMap((pi) =>
      Array.from({ length: candidates }, (_, j) => candidateSeed(o.seed, pi, candidates, j)),
    );
    const images = o.generate(prompts, seeds);
    try {
      const rewards = o.reward(images, prompts);
      chunk.forEach((prompt, i) => {
        const base = i * candidates;
        const cands: Candidate[] = Array.from({ length: candidates }, (_, j) => ({
          index: j,
          seed: seeds[base + j]!,
          reward: rewards[base + j]!,
        }));
        const best = topK(
          cands.map((c) => c.reward),
          keep,
        );
        const kept = tidy(() =>
          cat(
            best.map((j) => images.select(0, base + j).unsqueeze(0)),
            0,
          ),
        );
        const nFirst = Math.min(o.firstImages ?? 0, candidates);
        const first = nFirst > 0 ? tidy(() => images.narrow(0, base, nFirst).clone()) : undefined;
        o.onResult({
          promptIndex: indices[i]!,
          prompt,
          candidates: cands,
          kept: best.map((j) => cands[j]!),
          images: kept,
          ...(first ? { first } : {}),
        });
      });
    } finally {
      images.dispose();
    }
  }
}
