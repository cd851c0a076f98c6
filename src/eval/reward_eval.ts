/**
 * metrics.json's `reward_model` section: how well the run's reward model and the CLIP score predict
 * held-out human labels, per category (paper Figure 5), and the human-data-size ablation (paper
 * section "Ablation studies": reward models trained on 10, 25, 50 and 100% of the training labels).
 * Both are 5-fold cross-validated with the run's reward config (run_reward.ts, crossValidateReward)
 * under two protocols (`protocols`): `prompts`, where every label is predicted once by a model that
 * never saw its prompt (the top-level `accuracy`, `clip_score_accuracy` and `size_ablation`), and
 * `images`, held-out images of training prompts (the paper's protocol).
 */
import type { FeedbackDb } from '../feedback/db.js';
import { CV_PROTOCOLS, type CvProtocol } from '../reward/data.js';
import type { CategoryAccuracy } from '../reward/metrics.js';
import { readRewardConfig, rewardClipDir } from '../reward/reward_function.js';
import {
  type CrossValidation,
  RunEmbeddings,
  rewardHeldOutAccuracy,
  rewardSizeAblation,
} from '../reward/run_reward.js';
import { byCategory, orNull, type ProtocolMetrics, type RewardModelMetrics } from './metrics.js';

export interface RewardEvaluation {
  metrics: RewardModelMetrics;
  /** per-category held-out accuracy of each ablation model under the `prompts` protocol (the report's table) */
  ablation_by_category: { fraction: number; accuracy: CategoryAccuracy }[];
}

export async function evaluateRewardModel(o: {
  runDir: string;
  db: FeedbackDb;
  rewardDir: string;
  /** fractions of the size ablation; [] skips it */
  fractions: readonly number[];
  device: string;
  onAblation?: (fraction: number, accuracy: number, protocol: CvProtocol) => void;
  onFold?: (fold: number, folds: number, protocol: CvProtocol) => void;
}): Promise<RewardEvaluation> {
  const cfg = readRewardConfig(o.rewardDir);
  const clipDir = rewardClipDir(o.rewardDir, cfg);
  const config = { ...(cfg.train ?? {}), device: o.device };
  // one embedding cache for both protocols and every ablation fraction
  const embeddings = RunEmbeddings.open(o.runDir, clipDir, { device: o.device });
  const out = {} as Record<
    CvProtocol,
    {
      held: CrossValidation;
      ablation: { fraction: number; accuracy: number; by_category: CategoryAccuracy }[];
    }
  >;
  try {
    for (const protocol of CV_PROTOCOLS) {
      const held = await rewardHeldOutAccuracy({
        runDir: o.runDir,
        db: o.db,
        rewardDir: o.rewardDir,
        device: o.device,
        protocol,
        embeddings,
        onFold: (f, k) => o.onFold?.(f, k, protocol),
      });
      // the 100% point is the cross-validation above (same config, folds and seed): not trained twice
      const partial = o.fractions.filter((f) => f !== 1);
      const trained = partial.length
        ? await rewardSizeAblation({
            runDir: o.runDir,
            db: o.db,
            clipDir,
            config,
            fractions: partial,
            protocol,
            embeddings,
            onResult: (r) => o.onAblation?.(r.fraction, r.accuracy.all, protocol),
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
      if (o.fractions.includes(1)) o.onAblation?.(1, held.reward.all, protocol);
      out[protocol] = { held, ablation };
    }
  } finally {
    embeddings.dispose();
  }
  const sizeAblation = (p: CvProtocol) =>
    out[p].ablation.map((r) => ({ fraction: r.fraction, accuracy: orNull(r.accuracy) }));
  const protocolMetrics = (p: CvProtocol): ProtocolMetrics => ({
    accuracy: byCategory(out[p].held.reward),
    clip_score_accuracy: byCategory(out[p].held.clip_score),
    size_ablation: sizeAblation(p),
  });
  return {
    metrics: {
      accuracy: byCategory(out.prompts.held.reward),
      clip_score_accuracy: byCategory(out.prompts.held.clip_score),
      size_ablation: sizeAblation('prompts'),
      protocols: { images: protocolMetrics('images'), prompts: protocolMetrics('prompts') },
    },
    ablation_by_category: out.prompts.ablation.map((r) => ({
      fraction: r.fraction,
      accuracy: r.by_category,
    })),
  };
}
