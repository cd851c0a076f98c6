/**
 * `t2i-align feedback <action>`: the feedback data set of a run (paper Table 2).
 *
 *   feedback build      sample the feedback and unlabeled images from the original model (resumable)
 *   feedback simulate   label the feedback images with simulated raters; print the Table 2 summary
 */
import {
  type CommandSpec,
  numberOption,
  type ParsedValues,
  parseCommand,
  stringOption,
  subcommandGroup,
} from './args.js';
import { UserError } from './errors.js';
import { Progress } from './progress.js';

export const run = subcommandGroup('feedback', 'action', {
  build: {
    summary: 'sample the feedback set and the unlabeled set from the original model (resumable)',
    run: runBuild,
  },
  simulate: {
    summary: 'label the feedback images with simulated raters and print the Table 2 summary',
    run: runSimulate,
  },
});

export const FEEDBACK_BUILD_SPEC: CommandSpec = {
  name: 'feedback build',
  summary:
    'sample the feedback set (paper Table 2) and the unlabeled set from the original model into a run (resumable)',
  usage: 't2i-align feedback build --run DIR --preset smoke|quick|paper [--model checkpoints/world/base]',
  options: {
    run: { type: 'string', help: 'run folder (created if needed)' },
    preset: {
      type: 'string',
      default: 'quick',
      help: 'feedback prompt set: smoke (50 images), quick (2,294), paper (27,528)',
    },
    model: {
      type: 'string',
      default: 'checkpoints/world/base',
      help: 'the original text-to-image checkpoint',
    },
    'model-name': {
      type: 'string',
      default: 'original',
      help: 'name the images are stored under (images.model)',
    },
    seed: {
      type: 'string',
      default: '0',
      help: 'base seed; image k of a prompt uses hashSeed(seed, purpose, prompt, k)',
    },
    'unlabeled-fraction': {
      type: 'string',
      default: String(16_000 / 27_528),
      help: 'unlabeled images per feedback image, per category (paper: 16k / 27,528)',
    },
    steps: { type: 'string', help: "DDIM steps (default: the checkpoint's)" },
    guidance: { type: 'string', help: "classifier-free guidance scale (default: the checkpoint's)" },
    eta: { type: 'string', help: "DDIM eta (default: the checkpoint's)" },
    batch: {
      type: 'string',
      default: '64',
      help: 'images per sampling batch (each batch is saved before the next)',
    },
    limit: { type: 'string', help: 'sample at most this many images in this call (rerun to continue)' },
    device: { type: 'string', default: 'cpu', help: 'cpu, cuda or cuda:N' },
    db: { type: 'string', help: 'database URL (default: sqlite:<run>/feedback.db)' },
  },
};

async function openDb(v: ParsedValues, runDir: string) {
  const { openRunDb } = await import('../sampling/run.js');
  const { FeedbackError } = await import('../feedback/errors.js');
  try {
    return await openRunDb(runDir, typeof v['db'] === 'string' ? v['db'] : undefined);
  } catch (e) {
    if (e instanceof FeedbackError) throw new UserError(e.message);
    throw new UserError(`cannot open the feedback database: ${(e as Error).message}`);
  }
}

async function runBuild(argv: string[]): Promise<number> {
  const parsed = parseCommand(FEEDBACK_BUILD_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const runDir = stringOption(v, 'run');
  const preset = stringOption(v, 'preset');
  const { FEEDBACK_PRESETS } = await import('../world/feedback_prompts.js');
  if (!(FEEDBACK_PRESETS as readonly string[]).includes(preset)) {
    throw new UserError(`--preset must be one of ${FEEDBACK_PRESETS.join(', ')}, got "${preset}"`);
  }
  const modelDir = stringOption(v, 'model');
  const modelName = stringOption(v, 'model-name');
  const seed = numberOption(v, 'seed', { integer: true, min: 0 });
  const unlabeledFraction = numberOption(v, 'unlabeled-fraction', { min: 0 });
  const batch = numberOption(v, 'batch', { integer: true, min: 1 });
  const limit = v['limit'] !== undefined ? numberOption(v, 'limit', { integer: true, min: 0 }) : undefined;
  const device = String(v['device']);
  const { checkModelName, readRunConfig, updateRunConfig } = await import('../sampling/run.js');
  try {
    checkModelName(modelName, '--model-name');
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const { loadPipeline } = await import('../models/t2i_checkpoint.js');
  const { CheckpointError } = await import('../models/checkpoint.js');
  const { tensorToImages } = await import('../models/images.js');
  const { buildFeedbackSet, planFeedbackSet, planSummary } = await import('../sampling/feedback_set.js');
  let loaded: ReturnType<typeof loadPipeline>;
  try {
    loaded = loadPipeline(modelDir, { device });
  } catch (e) {
    if (e instanceof CheckpointError) throw new UserError(`--model ${modelDir}: ${e.message}`);
    throw e;
  }
  const sampler = { ...loaded.config.sampler };
  if (v['steps'] !== undefined) sampler.steps = numberOption(v, 'steps', { integer: true, min: 1 });
  if (v['guidance'] !== undefined) sampler.guidance = numberOption(v, 'guidance', { min: 0 });
  if (v['eta'] !== undefined) sampler.eta = numberOption(v, 'eta', { min: 0 });
  // a run holds one feedback set: the same model, seed and sampler on every call (presets may grow it)
  const settings = {
    model: modelDir,
    model_name: modelName,
    seed,
    unlabeled_fraction: unlabeledFraction,
    sampler: { sampler: 'ddim', ...sampler },
  };
  const previous = readRunConfig(runDir)['feedback'] as (typeof settings & { preset?: string }) | undefined;
  if (previous) {
    const { preset: _p, ...rest } = previous;
    if (JSON.stringify(rest) !== JSON.stringify(settings)) {
      throw new UserError(
        `${runDir} holds a feedback set built with other settings (${JSON.stringify(rest)}); use another --run, or the same settings to continue it`,
      );
    }
  }
  const plan = planFeedbackSet(preset as 'smoke' | 'quick' | 'paper', { seed, unlabeledFraction });
  const summary = planSummary(plan);
  const db = await openDb(v, runDir);
  updateRunConfig(runDir, 'feedback', { preset, ...settings });
  let stop = false;
  const onSignal = () => {
    process.stderr.write('feedback build: interrupted, finishing the current batch...\n');
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    process.stderr.write(
      `feedback build: ${preset}: ${summary.feedback.total} feedback images (count ${summary.feedback.count}, color ${summary.feedback.color}, ` +
        `background ${summary.feedback.background}, combination ${summary.feedback.combination}) + ${summary.unlabeled.total} unlabeled, ` +
        `${sampler.steps} DDIM steps, guidance ${sampler.guidance}\n`,
    );
    let progress: Progress | null = null;
    const result = await buildFeedbackSet({
      runDir,
      db,
      plan,
      modelName,
      sampler: settings.sampler,
      batchSize: batch,
      limit,
      shouldStop: () => stop,
      generate: (prompts, seeds) => {
        const t = loaded.pipeline.generate(prompts, { seeds, batchSize: batch, ...sampler });
        const images = tensorToImages(t);
        t.dispose();
        return images;
      },
      onProgress: (done, total) => {
        progress ??= new Progress('feedback build', total, 'images');
        progress.update(done);
      },
    });
    process.stdout.write(
      `feedback build: ${result.planned} images planned: ${result.existing} were already there, ${result.generated} sampled now` +
        `${result.registered ? `, ${result.registered} registered from disk` : ''}; ` +
        (result.remaining
          ? `${result.remaining} still to sample (run the same command again to continue)\n`
          : 'the set is complete\n'),
    );
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await db.close();
  }
}

export const FEEDBACK_SIMULATE_SPEC: CommandSpec = {
  name: 'feedback simulate',
  summary:
    'label every feedback image with simulated raters (good / bad / skip) and print the Table 2 summary',
  usage: 't2i-align feedback simulate --run DIR [--labelers 2]',
  options: {
    run: { type: 'string', help: 'run folder' },
    labelers: { type: 'string', default: '2', help: 'simulated labelers (paper: two labelers)' },
    seed: { type: 'string', default: '0', help: 'seed of the labelers (labeler i uses hashSeed(seed, i))' },
    'error-rate': {
      type: 'string',
      default: '0.04',
      help: 'probability a labeler answers the opposite of the verdict',
    },
    'skip-rate': {
      type: 'string',
      default: '0.02',
      help: 'probability a labeler skips an image the verdict is sure about',
    },
    purpose: { type: 'string', default: 'feedback', help: 'which images to label' },
    db: { type: 'string', help: 'database URL (default: sqlite:<run>/feedback.db)' },
  },
};

async function runSimulate(argv: string[]): Promise<number> {
  const parsed = parseCommand(FEEDBACK_SIMULATE_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const runDir = stringOption(v, 'run');
  const n = numberOption(v, 'labelers', { integer: true, min: 1 });
  const seed = numberOption(v, 'seed', { integer: true, min: 0 });
  const errorRate = numberOption(v, 'error-rate', { min: 0 });
  const skipRate = numberOption(v, 'skip-rate', { min: 0 });
  if (errorRate > 1 || skipRate > 1) throw new UserError('--error-rate and --skip-rate must be at most 1');
  const purpose = stringOption(v, 'purpose');
  const { simulatedLabelers } = await import('../sampling/labelers.js');
  const { simulateLabels } = await import('../sampling/feedback_set.js');
  const { updateRunConfig } = await import('../sampling/run.js');
  const db = await openDb(v, runDir);
  try {
    const labelers = simulatedLabelers(n, { seed, errorRate, skipRate });
    let progress: Progress | null = null;
    const result = await simulateLabels({
      runDir,
      db,
      labelers,
      purpose,
      onProgress: (done, total) => {
        progress ??= new Progress('feedback simulate', total, 'images');
        progress.update(done);
      },
    });
    if (result.images === 0)
      throw new UserError(`${runDir}: no ${purpose} images (run \`t2i-align feedback build\` first)`);
    updateRunConfig(runDir, 'labels', {
      labelers: labelers.map((l) => l.name),
      seed,
      error_rate: errorRate,
      skip_rate: skipRate,
      purpose,
    });
    process.stderr.write(
      `feedback simulate: ${n} labelers, ${result.images} images: ${result.inserted} new labels, ${result.existing} given before\n`,
    );
    const rows = await db.table2Summary({ purpose });
    process.stdout.write(formatTable2(rows));
    return 0;
  } finally {
    await db.close();
  }
}

/** The paper's Table 2 as text: images per category and the good / bad / skip shares of their labels. */
export function formatTable2(
  rows: readonly {
    category: string;
    images: number;
    labels: number;
    goodPct: number;
    badPct: number;
    skipPct: number;
  }[],
): string {
  const lines = [
    `${'Category'.padEnd(12)} ${'Images'.padStart(8)} ${'Labels'.padStart(8)} ${'Good %'.padStart(7)} ${'Bad %'.padStart(7)} ${'Skip %'.padStart(7)}`,
  ];
  for (const r of rows) {
    const name = r.category === 'total' ? 'Total' : r.category[0]!.toUpperCase() + r.category.slice(1);
    lines.push(
      `${name.padEnd(12)} ${String(r.images).padStart(8)} ${String(r.labels).padStart(8)} ${r.goodPct.toFixed(1).padStart(7)} ${r.badPct.toFixed(1).padStart(7)} ${r.skipPct.toFixed(1).padStart(7)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
