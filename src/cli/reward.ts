/**
 * `t2i-align reward <action>`: the reward model r(x, z) of a run (paper section "Reward learning").
 *
 *   reward train   train on the run's labels; print held-out accuracy against the CLIP-score baseline
 *   reward score   score the run's images (or a folder of generated images) into the database
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { RewardFeatures } from '../reward/config.js';
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

export const run = subcommandGroup('reward', 'action', {
  train: {
    summary: "train the reward model on the run's labels (MSE + prompt classification, eq. 1)",
    run: runTrain,
  },
  score: {
    summary: "score the run's images, or a folder of generated images, into the database",
    run: runScore,
  },
});

export const REWARD_TRAIN_SPEC: CommandSpec = {
  name: 'reward train',
  summary:
    "train the reward model on a run's labels and compare it with the CLIP-score baseline on held-out prompts",
  usage: 't2i-align reward train --run DIR [--name reward] [--clip DIR]',
  options: {
    run: { type: 'string', help: 'run folder (feedback.db with labels)' },
    name: { type: 'string', default: 'reward', help: 'output: <run>/models/<name>' },
    clip: {
      type: 'string',
      help: "frozen CLIP checkpoint (default: the text encoder folder of the run's original model)",
    },
    hidden: { type: 'string', default: '512', help: 'hidden width of the 2-layer MLP' },
    features: {
      type: 'string',
      default: 'concat',
      help: 'MLP input: concat ([e_x; e_z], the paper), concat_product (+ e_x * e_z) or concat_cos (+ cos)',
    },
    lambda: { type: 'string', default: '1', help: 'weight of the prompt-classification loss (eq. 1)' },
    perturbed: { type: 'string', default: '8', help: 'N, perturbed prompts per image (Algorithm 2)' },
    temperature: { type: 'string', default: '0.1', help: 'T of the softmax over r / T' },
    'pc-images': {
      type: 'string',
      default: 'good',
      help: 'images in the PC loss: good (weighted by label, D^txt) or all (Algorithm 1)',
    },
    lr: { type: 'string', default: '1e-3', help: 'AdamW learning rate' },
    'weight-decay': { type: 'string', default: '0.01', help: 'AdamW weight decay' },
    epochs: { type: 'string', default: '30', help: 'passes over the training images' },
    batch: { type: 'string', default: '64', help: 'images per step' },
    'val-fraction': {
      type: 'string',
      default: '0.2',
      help: "share of each category's prompts held out for validation",
    },
    fraction: {
      type: 'string',
      default: '1',
      help: "share of the training split's images to train on (data-size ablation)",
    },
    seed: {
      type: 'string',
      default: '0',
      help: 'seed of the split, the init, the order and the perturbations',
    },
    device: { type: 'string', default: 'cpu', help: 'cpu, cuda or cuda:N' },
    db: { type: 'string', help: 'database URL (default: sqlite:<run>/feedback.db)' },
  },
};

async function openDb(v: ParsedValues, runDir: string) {
  const { openRunDb } = await import('../sampling/run.js');
  const { FeedbackError } = await import('../feedback/errors.js');
  if (!existsSync(runDir)) throw new UserError(`no such run folder: ${runDir}`);
  try {
    return await openRunDb(runDir, typeof v['db'] === 'string' ? v['db'] : undefined);
  } catch (e) {
    if (e instanceof FeedbackError) throw new UserError(e.message);
    throw new UserError(`cannot open the feedback database: ${(e as Error).message}`);
  }
}

/** The CLIP the reward model reads: --clip, else the text encoder folder of the run's original model. */
async function clipFor(v: ParsedValues, runDir: string): Promise<string> {
  if (typeof v['clip'] === 'string') return v['clip'];
  const { runBaseTextEncoder } = await import('../finetune/run_finetune.js');
  return runBaseTextEncoder(runDir) ?? 'checkpoints/world/clip';
}

const pct = (x: number) => (Number.isNaN(x) ? '   -  ' : `${(100 * x).toFixed(1).padStart(5)}%`);

async function runTrain(argv: string[]): Promise<number> {
  const parsed = parseCommand(REWARD_TRAIN_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const runDir = stringOption(v, 'run');
  const name = stringOption(v, 'name');
  const { checkModelName, runModelDir, updateRunConfig } = await import('../sampling/run.js');
  try {
    checkModelName(name, '--name');
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const { rewardConfig } = await import('../reward/config.js');
  let config: ReturnType<typeof rewardConfig>;
  try {
    config = rewardConfig({
      hidden: numberOption(v, 'hidden', { integer: true, min: 1 }),
      features: stringOption(v, 'features') as RewardFeatures,
      lambda: numberOption(v, 'lambda', { min: 0 }),
      numPerturbed: numberOption(v, 'perturbed', { integer: true, min: 0 }),
      temperature: numberOption(v, 'temperature'),
      pcImages: stringOption(v, 'pc-images') as 'good',
      lr: numberOption(v, 'lr'),
      weightDecay: numberOption(v, 'weight-decay', { min: 0 }),
      epochs: numberOption(v, 'epochs', { integer: true, min: 1 }),
      batchSize: numberOption(v, 'batch', { integer: true, min: 1 }),
      valFraction: numberOption(v, 'val-fraction', { min: 0 }),
      seed: numberOption(v, 'seed', { integer: true, min: 0 }),
      device: String(v['device']),
    });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const fraction = numberOption(v, 'fraction');
  if (!(fraction > 0 && fraction <= 1)) throw new UserError(`--fraction must be in (0, 1], got ${fraction}`);
  const clipDir = await clipFor(v, runDir);
  const { CheckpointError } = await import('../models/checkpoint.js');
  const { trainRewardOnRun } = await import('../reward/run_reward.js');
  const db = await openDb(v, runDir);
  const outDir = runModelDir(runDir, name);
  try {
    let embedProgress: Progress | null = null;
    let result: Awaited<ReturnType<typeof trainRewardOnRun>>;
    try {
      result = await trainRewardOnRun({
        runDir,
        db,
        clipDir,
        config,
        fraction,
        outDir,
        onEmbedProgress: (done, total) => {
          if (total === 0) return;
          embedProgress ??= new Progress('reward train: CLIP image embeddings', total, 'images');
          embedProgress.update(done);
        },
        onEpoch: (log) => {
          const val = log.val
            ? ` | val loss ${log.val.loss.toFixed(4)} acc ${pct(log.val.accuracy.all)}`
            : '';
          process.stderr.write(
            `reward train: epoch ${log.epoch}/${config.epochs} train loss ${log.train.loss.toFixed(4)} (mse ${log.train.mse.toFixed(4)}, ` +
              `pc ${log.train.pc.toFixed(4)}) acc ${pct(log.train.accuracy.all)}${val} (${log.seconds.toFixed(1)} s)\n`,
          );
        },
      });
    } catch (e) {
      if (e instanceof CheckpointError) throw new UserError(`--clip ${clipDir}: ${e.message}`);
      throw e;
    }
    result.model.dispose();
    const r = result.report;
    updateRunConfig(runDir, 'reward', {
      name,
      dir: outDir,
      clip: clipDir,
      config,
      fraction,
      accuracy: r.accuracy,
      clip_score_accuracy: r.clip_score_accuracy,
    });
    const lines = [
      `reward model ${outDir}: ${r.images.train} training images (${r.prompts.train} prompts), ${r.images.val} held-out images (${r.prompts.val} prompts)`,
      `held-out accuracy     ${['count', 'color', 'background', 'combination', 'all'].map((k) => k.padStart(11)).join(' ')}`,
      `  reward model        ${(['count', 'color', 'background', 'combination', 'all'] as const).map((k) => pct(r.accuracy[k]).padStart(11)).join(' ')}`,
      `  CLIP score baseline ${(['count', 'color', 'background', 'combination', 'all'] as const).map((k) => pct(r.clip_score_accuracy[k]).padStart(11)).join(' ')}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

export const REWARD_SCORE_SPEC: CommandSpec = {
  name: 'reward score',
  summary:
    "score a run's images (or a folder with a manifest.jsonl) with a reward model; scores go into the database",
  usage: 't2i-align reward score --run DIR [--reward DIR] [--images DIR]',
  options: {
    run: { type: 'string', help: 'run folder' },
    reward: { type: 'string', help: 'reward checkpoint (default: <run>/models/reward)' },
    name: { type: 'string', help: 'reward model name in the database (default: the reward folder name)' },
    purpose: {
      type: 'string',
      help: "comma-separated image purposes to score (default: all the run's images)",
    },
    images: {
      type: 'string',
      help: 'instead: a folder of PNGs with a manifest.jsonl (file, prompt), as generate and sample write',
    },
    'image-purpose': {
      type: 'string',
      default: 'eval',
      help: 'with --images inside the run: purpose the images are registered under',
    },
    'model-name': {
      type: 'string',
      help: "with --images inside the run: images.model (default: the manifest's model folder name)",
    },
    device: { type: 'string', default: 'cpu', help: 'cpu, cuda or cuda:N' },
    db: { type: 'string', help: 'database URL (default: sqlite:<run>/feedback.db)' },
  },
};

async function runScore(argv: string[]): Promise<number> {
  const parsed = parseCommand(REWARD_SCORE_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const runDir = stringOption(v, 'run');
  const { checkModelName, runModelDir } = await import('../sampling/run.js');
  const rewardDir = typeof v['reward'] === 'string' ? v['reward'] : runModelDir(runDir, 'reward');
  const rewardName = typeof v['name'] === 'string' ? v['name'] : basename(resolve(rewardDir));
  try {
    checkModelName(rewardName, 'reward model name');
  } catch (e) {
    throw new UserError(`${(e as Error).message} (give --name)`);
  }
  if (!existsSync(join(rewardDir, 'config.json')))
    throw new UserError(`no reward model at ${rewardDir} (run \`t2i-align reward train\` first)`);
  const device = String(v['device']);
  const db = await openDb(v, runDir);
  try {
    if (typeof v['images'] === 'string') return await scoreFolder(v, runDir, rewardDir, rewardName, db);
    const { scoreRunImages } = await import('../reward/run_reward.js');
    const purposes =
      typeof v['purpose'] === 'string'
        ? v['purpose']
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined;
    let progress: Progress | null = null;
    let result: Awaited<ReturnType<typeof scoreRunImages>>;
    try {
      result = await scoreRunImages({
        runDir,
        db,
        rewardDir,
        rewardName,
        purposes,
        device,
        onProgress: (done, total) => {
          if (total === 0) return;
          progress ??= new Progress('reward score: CLIP image embeddings', total, 'images');
          progress.update(done);
        },
      });
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    process.stdout.write(
      `reward score: ${result.scored} images scored with ${rewardName} (mean reward ${result.mean.toFixed(3)}), stored in the database\n`,
    );
    return 0;
  } finally {
    await db.close();
  }
}

interface ManifestLine {
  file: string;
  prompt: string;
  seed?: number;
  model?: string;
  [key: string]: unknown;
}

function readManifest(dir: string): ManifestLine[] {
  const path = join(dir, 'manifest.jsonl');
  if (!existsSync(path))
    throw new UserError(
      `${dir}: no manifest.jsonl (write one with \`t2i-align generate\` or \`t2i-align sample\`)`,
    );
  const out: ManifestLine[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let obj: ManifestLine;
      try {
        obj = JSON.parse(line) as ManifestLine;
      } catch (e) {
        throw new UserError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
      }
      if (typeof obj.file !== 'string' || typeof obj.prompt !== 'string')
        throw new UserError(`${path}:${i + 1}: needs "file" and "prompt"`);
      out.push(obj);
    });
  return out;
}

async function scoreFolder(
  v: ParsedValues,
  runDir: string,
  rewardDir: string,
  rewardName: string,
  db: Awaited<ReturnType<typeof openDb>>,
): Promise<number> {
  const dir = String(v['images']);
  const manifest = readManifest(dir);
  const { loadRewardFunction } = await import('../reward/reward_function.js');
  const { readPng } = await import('../world/png.js');
  const { checkModelName, pathInRun } = await import('../sampling/run.js');
  const reward = loadRewardFunction(rewardDir, { device: String(v['device']) });
  const progress = new Progress('reward score', manifest.length, 'images');
  const values: number[] = [];
  try {
    for (let i = 0; i < manifest.length; i += 256) {
      const part = manifest.slice(i, i + 256);
      const r = reward.scoreImages(
        part.map((m) => readPng(join(dir, m.file))),
        part.map((m) => m.prompt),
      );
      values.push(...r);
      progress.update(i + part.length);
    }
  } finally {
    reward.dispose();
  }
  writeFileSync(
    join(dir, 'rewards.jsonl'),
    `${manifest.map((m, i) => JSON.stringify({ file: m.file, prompt: m.prompt, seed: m.seed, reward: values[i], reward_model: rewardName })).join('\n')}\n`,
  );
  const mean = values.reduce((s, x) => s + x, 0) / Math.max(1, values.length);
  const inRun = pathInRun(runDir, dir);
  if (inRun === null) {
    process.stdout.write(
      `reward score: ${values.length} images scored (mean reward ${mean.toFixed(3)}), written to ${join(dir, 'rewards.jsonl')}; ` +
        `the folder is outside ${runDir}, so nothing was stored in its database\n`,
    );
    return 0;
  }
  // register the images (and their prompts) in the run's database, then store the scores
  const { parsePrompt, promptCategory } = await import('../world/prompt.js');
  const { evalPrompts } = await import('../world/eval_prompts.js');
  const evalSplit = new Map(
    evalPrompts().map((p) => [
      p.text,
      p.split === 'seen' ? ('eval_seen' as const) : ('eval_unseen' as const),
    ]),
  );
  const manifestModel = manifest.find((m) => typeof m.model === 'string')?.model;
  const modelName =
    typeof v['model-name'] === 'string'
      ? v['model-name']
      : manifestModel
        ? basename(resolve(manifestModel))
        : 'external';
  try {
    checkModelName(modelName, 'model name');
  } catch (e) {
    throw new UserError(`${(e as Error).message} (give --model-name)`);
  }
  const keep: number[] = [];
  const prompts: {
    text: string;
    category: 'count' | 'color' | 'background' | 'combination';
    split: 'feedback' | 'eval_seen' | 'eval_unseen';
  }[] = [];
  manifest.forEach((m, i) => {
    let category: ReturnType<typeof promptCategory> = null;
    try {
      category = promptCategory(parsePrompt(m.prompt));
    } catch {
      category = null;
    }
    if (category === null) return;
    keep.push(i);
    prompts.push({ text: m.prompt, category, split: evalSplit.get(m.prompt) ?? 'feedback' });
  });
  const promptIds = await db.insertPrompts(prompts);
  const imageIds = await db.insertImages(
    keep.map((i, k) => ({
      promptId: promptIds[k]!,
      path: `${inRun}/${manifest[i]!.file}`,
      model: modelName,
      seed: typeof manifest[i]!.seed === 'number' ? manifest[i]!.seed : null,
      sampler: null,
      purpose: String(v['image-purpose']),
    })),
  );
  await db.upsertRewards(
    rewardName,
    keep.map((i, k) => ({ imageId: imageIds[k]!, value: values[i]! })),
  );
  const skipped = manifest.length - keep.length;
  process.stdout.write(
    `reward score: ${values.length} images scored (mean reward ${mean.toFixed(3)}); ${keep.length} stored in the database as ${modelName}` +
      `${skipped ? `, ${skipped} left out (prompt outside the four categories)` : ''}; also ${join(dir, 'rewards.jsonl')}\n`,
  );
  return 0;
}
