/**
 * metrics.json's `reward_model` section: how well the run's reward model and the CLIP score predict
 * held-out human labels, per category (paper Figure 5), and the human-data-size ablation (paper
 * section "Ablation studies": reward models trained on 10, 25, 50 and 100% of the training labels).
 * Both are 5-fold cross-validated by prompt with the run's reward config (run_reward.ts,
 * crossValidateReward): every label is predicted once by a model that never saw its prompt.
 */
import type { FeedbackDb } from '../feedback/db.js';
import type { CategoryAccuracy } from '../reward/metrics.js';
import { readRewardConfig, rewardClipDir } from '../reward/reward_function.js';
import { rewardHeldOutAccuracy, rewardSizeAblation } from '../reward/run_reward.js';
import { byCategory, orNull, type RewardModelMetrics } from './metrics.js';

export interface RewardEvaluation {
  metrics: RewardModelMetrics;
  /** per-category held-out accuracy of each ablation model (the report's table) */
  ablation_by_category: { fraction: number; accuracy: CategoryAccuracy }[];
}

export async function evaluateRewardModel(o: {
  runDir: string;
  db: FeedbackDb;
  rewardDir: string;
  /** fractions of the size ablation; [] skips it */
  fractions: readonly number[];
  device: string;
  onAblation?: (fraction: number, accuracy: number) => void;
  onFold?: (fold: number, folds: number) => void;
}): Promise<RewardEvaluation> {
  const held = await rewardHeldOutAccuracy({
    runDir: o.runDir,
    db: o.db,
    rewardDir: o.rewardDir,
    device: o.device,
    onFold: o.onFold,
  });
  const cfg = readRewardConfig(o.rewardDir);
  // the 100% point is the cross-validation above (same config, folds and seed): not trained twice
  const partial = o.fractions.filter((f) => f !== 1);
  const trained = partial.length
    ? await rewardSizeAblation({
        runDir: o.runDir,
        db: o.db,
        clipDir: rewardClipDir(o.rewardDir, cfg),
        config: { ...(cfg.train ?? {}), device: o.device },
        fractions: partial,
        onResult: (r) => o.onAblation?.(r.fraction, r.accuracy.all),
      })
    : [];
  const ablation = o.fractions.map(
    (fraction) =>
      trained.find((r) => r.fraction === fraction) ?? {
        fraction,
        accuracy: held.reward.all,
        by_category: held.reward,
      },
  );
  if (o.fractions.includes(1)) o.onAblation?.(1, held.reward.all);
  return {
    metrics: {
      accuracy: byCategory(held.reward),
      clip_score_accuracy: byCategory(held.clip_score),
      size_ablation: ablation.map((r) => ({ fraction: r.fraction, accuracy: orNull(r.accuracy) })),
    },
    ablation_by_category: ablation.map((r) => ({ fraction: r.fraction, accuracy: r.by_category })),
  };
}
