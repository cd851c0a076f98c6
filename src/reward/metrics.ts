/**
 * How well a score predicts held-out human labels (paper Figure 5): accuracy per category, counted
 * per label (each labeler's good / bad answer is one prediction target; skips are left out), and the
 * CLIP-score baseline, cos(e_x, e_z) with the best single threshold per category chosen on the
 * training split.
 */
import { CATEGORIES, type Category } from '../feedback/types.js';
import type { RewardExample } from './data.js';

export type CategoryAccuracy = Record<Category | 'all', number>;

/**
 * Share of labels that `score >= threshold(category)` predicts (good = 1 when at or above), per
 * category and over all. A category without labels gets NaN (null in JSON).
 */
export function labelAccuracy(
  examples: readonly RewardExample[],
  scores: ArrayLike<number>,
  threshold: number | Readonly<Record<Category, number>> = 0.5,
): CategoryAccuracy {
  if (scores.length !== examples.length)
    throw new Error(`labelAccuracy: ${scores.length} scores for ${examples.length} examples`);
  const right: Record<string, number> = {};
  const total: Record<string, number> = {};
  examples.forEach((ex, i) => {
    const th = typeof threshold === 'number' ? threshold : threshold[ex.category];
    const pred = scores[i]! >= th ? 1 : 0;
    for (const l of ex.labels) {
      for (const key of [ex.category, 'all']) {
        total[key] = (total[key] ?? 0) + 1;
        if (l === pred) right[key] = (right[key] ?? 0) + 1;
      }
    }
  });
  const acc = (k: string) => (total[k] ? (right[k] ?? 0) / total[k]! : Number.NaN);
  return {
    count: acc('count'),
    color: acc('color'),
    background: acc('background'),
    combination: acc('combination'),
    all: acc('all'),
  };
}

/**
 * The threshold that maximises per-label accuracy of `score >= threshold` on the given examples:
 * candidates are the midpoints between consecutive distinct scores plus one below and one above all
 * of them; ties go to the lowest such threshold.
 */
export function bestThreshold(
  examples: readonly RewardExample[],
  scores: ArrayLike<number>,
): { threshold: number; accuracy: number } {
  const items: { s: number; good: number; bad: number }[] = [];
  examples.forEach((ex, i) => {
    const good = ex.labels.filter((l) => l === 1).length;
    const bad = ex.labels.length - good;
    if (good + bad > 0) items.push({ s: scores[i]!, good, bad });
  });
  if (items.length === 0) return { threshold: 0, accuracy: Number.NaN };
  items.sort((a, b) => a.s - b.s);
  const total = items.reduce((s, it) => s + it.good + it.bad, 0);
  // threshold below everything: every label predicted good
  let correct = items.reduce((s, it) => s + it.good, 0);
  let best = { threshold: items[0]!.s - 1, correct };
  for (let i = 0; i < items.length; i++) {
    // moving the threshold above items[i] turns its prediction to bad
    correct += items[i]!.bad - items[i]!.good;
    const next = items[i + 1];
    if (next && next.s === items[i]!.s) continue;
    const threshold = next ? (items[i]!.s + next.s) / 2 : items[i]!.s + 1;
    if (correct > best.correct) best = { threshold, correct };
  }
  return { threshold: best.threshold, accuracy: best.correct / total };
}

/** Per-category best thresholds (bestThreshold) on the given examples; a category without labels gets 0. */
export function categoryThresholds(
  examples: readonly RewardExample[],
  scores: ArrayLike<number>,
): Record<Category, number> {
  const out = {} as Record<Category, number>;
  for (const c of CATEGORIES) {
    const idx = examples.flatMap((e, i) => (e.category === c ? [i] : []));
    out[c] = bestThreshold(
      idx.map((i) => examples[i]!),
      idx.map((i) => scores[i]!),
    ).threshold;
  }
  return out;
}

/** min / mean / max of a list of rewards (NaN for an empty list). */
export function rewardStats(values: ArrayLike<number>): { min: number; mean: number; max: number } {
  if (values.length === 0) return { min: Number.NaN, mean: Number.NaN, max: Number.NaN };
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { min, mean: sum / values.length, max };
}
