/**
 * metrics.json's `reward_model` section: how well the run's reward model and the CLIP score predict
 * held-out human labels, per category (paper Figure 5), and the human-data-size ablation (paper
 * section "Ablation studies": reward models trained on 10, 25, 50 and 100% of the training labels,
 * with the run's reward config and split, evaluated on the same held-out prompts).
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
}): Promise<RewardEvaluation> {
  const held = await rewardHeldOutAccuracy({
    runDir: o.runDir,
    db: o.db,
    rewardDir: o.rewardDir,
    device: o.device,
  });
  const cfg = readRewardConfig(o.rewardDir);
  const ablation = o.fractions.length
    ? await rewardSizeAblation({
        runDir: o.runDir,
        db: o.db,
        clipDir: rewardClipDir(o.rewardDir, cfg),
        config: { ...(cfg.train ?? {}), device: o.device },
        fractions: o.fractions,
        onResult: (r) => o.onAblation?.(r.fraction, r.accuracy.all),
      })
    : [];
  return {
    metrics: {
      accuracy: byCategory(held.reward),
      clip_score_accuracy: byCategory(held.clip_score),
      size_ablation: ablation.map((r) => ({ fraction: r.fraction, accuracy: orNull(r.accuracy) })),
    },
    ablation_by_category: ablation.map((r) => ({ fraction: r.fraction, accuracy: r.by_category })),
  };
}
