/**
 * `npm run bench:reward -- --run runs/quick [--clip DIR] [--configs FILE.json | --config JSON]
 * [--fractions 0.1,0.5,1] [--protocol prompts|images]`: 5-fold cross-validation by prompt, or by image
 * within each prompt with `--protocol images` (crossValidateReward, docs/method.md), of
 * one or more reward configs on a labeled run, beside the CLIP-score baseline on the same folds. Each
 * config is a partial RewardConfig ({"features": "concat_cos", "lambda": 0.3}); the default is one run
 * of the defaults. `--fractions` trains each fold on those fractions of its training images (the size
 * ablation's subsets; the held-out prompts stay the same). The run's embedding cache is reused, so a
 * config costs seconds once the images are embedded.
 *
 * Prints held-out accuracy per category (count / color / background / combination / all) for each
 * config, and the baseline once per CLIP (fit on the largest of `--fractions`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runBaseTextEncoder } from '../src/finetune/run_finetune.js';
import { type RewardConfig, rewardConfig } from '../src/reward/config.js';
import { CV_PROTOCOLS, type CvProtocol } from '../src/reward/data.js';
import type { CategoryAccuracy } from '../src/reward/metrics.js';
import { crossValidateReward, RunEmbeddings } from '../src/reward/run_reward.js';
import { openRunDb } from '../src/sampling/run.js';

const { values } = parseArgs({
  options: {
    run: { type: 'string' },
    clip: { type: 'string' },
    config: { type: 'string' },
    configs: { type: 'string' },
    folds: { type: 'string', default: '5' },
    fractions: { type: 'string', default: '1' },
    protocol: { type: 'string', default: 'prompts' },
  },
});
function fail(message: string): never {
  process.stderr.write(`bench:reward: ${message}\n`);
  process.exit(2);
}
const runDir = values.run ?? fail('--run DIR is required (a run with labeled feedback images)');
if (!existsSync(runDir)) fail(`${runDir}: no such run folder`);
let configs: Partial<RewardConfig>[] = [{}];
try {
  if (values.configs) configs = JSON.parse(readFileSync(values.configs, 'utf8'));
  else if (values.config) configs = [JSON.parse(values.config)];
} catch (e) {
  fail(`cannot read the configs: ${(e as Error).message}`);
}
if (!Array.isArray(configs)) configs = [configs];
const clipDir =
  values.clip ??
  runBaseTextEncoder(runDir) ??
  fail(`${runDir}: no readable original model recorded; give --clip DIR`);
const folds = Number(values.folds);
const fractions = String(values.fractions)
  .split(',')
  .map((f) => Number(f));
if (fractions.some((f) => !(f > 0 && f <= 1)))
  fail(`--fractions: each must be in (0, 1], got "${values.fractions}"`);
// the baseline's thresholds are fit on the training images too: report the largest share's
const largest = Math.max(...fractions);
const protocol = values.protocol as CvProtocol;
if (!(CV_PROTOCOLS as readonly string[]).includes(protocol))
  fail(`--protocol: expected ${CV_PROTOCOLS.join(' or ')}, got "${values.protocol}"`);
const fmt = (a: CategoryAccuracy) =>
  (['count', 'color', 'background', 'combination', 'all'] as const)
    .map((k) => `${(100 * a[k]).toFixed(1)}`)
    .join(' / ');
const db = await openRunDb(runDir);
try {
  console.log(
    `${runDir}, CLIP ${clipDir}, ${folds}-fold by ${protocol.slice(0, -1)}; count / color / background / combination / all`,
  );
  let baseline = '';
  for (const config of configs) {
    // one embedding cache per config, shared by its fractions (as rewardSizeAblation does)
    const embeddings = RunEmbeddings.open(runDir, clipDir, { device: rewardConfig(config).device });
    try {
      for (const fraction of fractions) {
        const t0 = performance.now();
        const cv = await crossValidateReward({
          runDir,
          db,
          clipDir,
          config,
          folds,
          fraction,
          protocol,
          embeddings,
        });
        if (fraction === largest) baseline = fmt(cv.clip_score);
        const share = fraction === 1 ? '' : `, ${fraction} of each fold's training images`;
        console.log(
          `reward ${JSON.stringify(config)}: ${fmt(cv.reward)}  (${cv.images} images${share}, ${((performance.now() - t0) / 1000).toFixed(0)} s)`,
        );
      }
    } finally {
      embeddings.dispose();
    }
  }
  console.log(`CLIP score: ${baseline}`);
} catch (e) {
  fail((e as Error).message);
} finally {
  await db.close();
}
