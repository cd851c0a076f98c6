/**
 * `t2i-align finetune`: reward-weighted fine-tuning of the original model on a run (paper section
 * "Updating the text-to-image model"; src/finetune/). Writes <run>/models/<name>/ as a text-to-image
 * checkpoint folder like the original's. Resumable: the same command continues from
 * <run>/models/<name>/train/; Ctrl-C saves and stops.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandSpec, numberOption, parseCommand, stringOption } from './args.js';
import { UserError } from './errors.js';
import { formatDuration, Progress } from './progress.js';

export const FINETUNE_SPEC: CommandSpec = {
  name: 'finetune',
  summary: 'reward-weighted fine-tuning: E_Dmodel[r l] + beta E_Dpre[l] (resumable; Ctrl-C saves)',
  usage:
    't2i-align finetune --run DIR [--name finetuned] [--no-unlabeled] [--beta 0] [--weights reward|human]',
  options: {
    run: { type: 'string', help: 'run folder (feedback set, labels, reward model)' },
    name: { type: 'string', default: 'finetuned', help: 'output: <run>/models/<name>' },
    model: {
      type: 'string',
      help: "original text-to-image checkpoint (default: the one the run's feedback set was sampled from)",
    },
    reward: { type: 'string', help: 'reward checkpoint scoring D_model (default: <run>/models/reward)' },
    'reward-name': {
      type: 'string',
      help: 'reward model name in the database (default: the reward folder name)',
    },
    'no-unlabeled': { type: 'boolean', default: false, help: 'leave the unlabeled images out of D_model' },
    beta: { type: 'string', default: '1', help: 'weight of the pretraining-data term (0: off)' },
    weights: {
      type: 'string',
      default: 'reward',
      help: 'weights of the labeled images: reward (r(x,z)) or human (averaged labels)',
    },
    steps: { type: 'string', default: '600', help: 'total optimizer steps' },
    'batch-model': { type: 'string', default: '32', help: 'D_model images per step' },
    'batch-pre': { type: 'string', default: '32', help: 'D_pre (pretraining corpus) pairs per step' },
    lr: { type: 'string', default: '1e-4', help: 'AdamW learning rate (after warmup)' },
    warmup: { type: 'string', default: '50', help: 'linear warmup steps' },
    ema: {
      type: 'string',
      default: '0.99',
      help: 'EMA decay of the saved weights (0: save the raw weights)',
    },
    'uncond-prob': {
      type: 'string',
      default: '0.1',
      help: 'probability of replacing a prompt by "" (classifier-free guidance)',
    },
    seed: { type: 'string', default: '0', help: 'seed of the data order, caption dropout and noise' },
    'save-every': { type: 'string', default: '100', help: 'steps between checkpoints of the training state' },
    'log-every': { type: 'string', default: '25', help: 'steps between progress lines' },
    'max-steps': {
      type: 'string',
      help: 'stop after this many steps in this call (run the same command again to continue)',
    },
    device: { type: 'string', default: 'cpu', help: 'cpu, cuda or cuda:N' },
    db: { type: 'string', help: 'database URL (default: sqlite:<run>/feedback.db)' },
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(FINETUNE_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const runDir = stringOption(v, 'run');
  if (!existsSync(runDir)) throw new UserError(`no such run folder: ${runDir}`);
  const name = stringOption(v, 'name');
  const { checkModelName, openRunDb, runModelDir } = await import('../sampling/run.js');
  const { runBaseModel, finetuneOnRun } = await import('../finetune/run_finetune.js');
  const { FinetuneError, finetuneConfig } = await import('../finetune/finetune.js');
  try {
    checkModelName(name, '--name');
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const baseDir = typeof v['model'] === 'string' ? v['model'] : runBaseModel(runDir);
  if (!baseDir) throw new UserError(`${runDir}: no feedback set recorded in config.json; give --model`);
  const rewardDir = typeof v['reward'] === 'string' ? v['reward'] : runModelDir(runDir, 'reward');
  const rewardName =
    typeof v['reward-name'] === 'string' ? v['reward-name'] : rewardDir.replace(/\/+$/, '').split('/').pop()!;
  try {
    checkModelName(rewardName, 'reward model name');
  } catch (e) {
    throw new UserError(`${(e as Error).message} (give --reward-name)`);
  }
  let config: ReturnType<typeof finetuneConfig>;
  try {
    config = finetuneConfig({
      steps: numberOption(v, 'steps', { integer: true, min: 1 }),
      batchModel: numberOption(v, 'batch-model', { integer: true, min: 1 }),
      batchPre: numberOption(v, 'batch-pre', { integer: true, min: 0 }),
      lr: numberOption(v, 'lr'),
      warmupSteps: numberOption(v, 'warmup', { integer: true, min: 0 }),
      emaDecay: numberOption(v, 'ema', { min: 0 }),
      beta: numberOption(v, 'beta', { min: 0 }),
      useUnlabeled: v['no-unlabeled'] !== true,
      weights: stringOption(v, 'weights') as 'reward',
      uncondProb: numberOption(v, 'uncond-prob', { min: 0 }),
      seed: numberOption(v, 'seed', { integer: true, min: 0 }),
      saveEvery: numberOption(v, 'save-every', { integer: true, min: 1 }),
      logEvery: numberOption(v, 'log-every', { integer: true, min: 1 }),
      device: String(v['device']),
    });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const maxSteps =
    v['max-steps'] !== undefined ? numberOption(v, 'max-steps', { integer: true, min: 0 }) : undefined;
  if (!existsSync(join(baseDir, 'config.json')))
    throw new UserError(`--model ${baseDir}: no checkpoint there`);
  const { FeedbackError } = await import('../feedback/errors.js');
  const { CheckpointError } = await import('../models/checkpoint.js');
  let db: Awaited<ReturnType<typeof openRunDb>>;
  try {
    db = await openRunDb(runDir, typeof v['db'] === 'string' ? v['db'] : undefined);
  } catch (e) {
    if (e instanceof FeedbackError) throw new UserError(e.message);
    throw new UserError(`cannot open the feedback database: ${(e as Error).message}`);
  }
  let stop = false;
  const onSignal = () => {
    process.stderr.write('finetune: interrupted, saving the training state...\n');
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let scoring: Progress | null = null;
    const result = await finetuneOnRun({
      runDir,
      db,
      name,
      baseDir,
      rewardDir,
      rewardName,
      config,
      shouldStop: () => stop,
      maxStepsThisCall: maxSteps,
      onScoreProgress: (done, total) => {
        if (total === 0) return;
        scoring ??= new Progress('finetune: scoring D_model with the reward model', total, 'images');
        scoring.update(done);
      },
      onProgress: (p) =>
        process.stderr.write(
          `finetune ${name}: step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} (D_model ${p.modelTerm.toFixed(4)}, D_pre ${p.preTerm.toFixed(4)}, ` +
            `mean weight ${p.weightMean.toFixed(3)}) lr ${p.lr.toExponential(2)} ${p.imagesPerSecond.toFixed(0)} img/s ETA ${formatDuration(p.etaSeconds)}\n`,
        ),
    });
    const d = result.data;
    process.stdout.write(
      result.done
        ? `finetune: ${result.outDir} written after ${result.step} steps (D_model: ${d.labeled} labeled + ${d.unlabeled} unlabeled images, mean weight ${d.weightMean.toFixed(3)}; beta ${config.beta})\n`
        : `finetune: stopped at step ${result.step}/${config.steps}; run the same command again to continue\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof CheckpointError) throw new UserError(e.message);
    if (e instanceof FinetuneError) throw new UserError(e.message);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await db.close();
  }
}
