/**
 * One evaluation written to a report folder: evaluateModels (evaluate.ts), the reward-model section
 * when a labeled run is given (reward_eval.ts), then `metrics.json` (validated against the contract,
 * metrics.ts) and `details.json` (per-image results and training-log locations, which the report reads).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FeedbackDb } from '../feedback/db.js';
import type { ReportDetails } from '../report/report.js';
import { type EvaluateOptions, evaluateModels } from './evaluate.js';
import { type MetricsJson, validateMetrics } from './metrics.js';
import { evaluateRewardModel } from './reward_eval.js';

export const METRICS_FILE = 'metrics.json';
export const DETAILS_FILE = 'details.json';

export interface RunEvaluationOptions extends EvaluateOptions {
  /** metrics.json's "preset" */
  preset: string;
  /** report folder: metrics.json and details.json are written here */
  outDir: string;
  /** the labeled run (feedback.db) whose held-out labels the reward model is measured on */
  labeled?: { runDir: string; db: FeedbackDb } | null;
  /** fractions of the human-data-size ablation ([] skips it) */
  ablationFractions: readonly number[];
  /** metrics.json must hold the full demo's models, panels and reward section */
  complete?: boolean;
  /** where `store` keeps the comparisons, as the report names it (e.g. runs/demo/feedback.db) */
  databaseLabel?: string;
}

/** Runs the evaluation and writes metrics.json and details.json; null when interrupted. */
export async function runEvaluation(
  o: RunEvaluationOptions,
): Promise<{ metrics: MetricsJson; details: ReportDetails } | null> {
  const log = o.log ?? (() => {});
  const result = await evaluateModels(o);
  if (!result) return null;
  let rewardModel: Awaited<ReturnType<typeof evaluateRewardModel>> | null = null;
  if (o.labeled) {
    const labels = await o.labeled.db.listLabels({ purpose: 'feedback' });
    if (labels.length === 0)
      log(`evaluate: ${o.labeled.runDir} holds no labels; the reward-model section is left out`);
    else {
      log(
        'evaluate: reward model vs CLIP score on held-out labels (5-fold cross-validation by prompt, then by image)',
      );
      rewardModel = await evaluateRewardModel({
        runDir: o.labeled.runDir,
        db: o.labeled.db,
        rewardDir: o.rewardDir,
        fractions: o.ablationFractions,
        device: o.device,
        onFold: (fold, folds, protocol) =>
          log(`evaluate: cross-validation by ${protocol.slice(0, -1)}, fold ${fold}/${folds}`),
        onAblation: (fraction, accuracy, protocol) =>
          log(
            `evaluate: size ablation (by ${protocol.slice(0, -1)}): ${(100 * fraction).toFixed(0)}% of the labels -> held-out accuracy ${(100 * accuracy).toFixed(1)}%`,
          ),
      });
    }
  }
  const metrics = validateMetrics(
    {
      preset: o.preset,
      models: result.models,
      ...(rewardModel ? { reward_model: rewardModel.metrics } : {}),
      panel: result.panel,
    },
    { complete: o.complete },
  );
  const finetuneLogs: Record<string, string> = {};
  for (const m of o.models) {
    const path = join(m.source.dir, 'train', 'log.jsonl');
    if (m.source.kind === 'pipeline' && existsSync(path)) finetuneLogs[m.name] = path;
  }
  const rewardLog = join(o.rewardDir, 'log.jsonl');
  const details: ReportDetails = {
    ...result.details,
    reward_ablation: rewardModel?.ablation_by_category ?? [],
    logs: { reward: existsSync(rewardLog) ? rewardLog : null, finetune: finetuneLogs },
    database: o.store ? (o.databaseLabel ?? o.store.root) : null,
  };
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, METRICS_FILE), `${JSON.stringify(metrics, null, 2)}\n`);
  writeFileSync(join(o.outDir, DETAILS_FILE), `${JSON.stringify(details)}\n`);
  return { metrics, details };
}
