/**
 * The method's commands end to end on tiny checkpoints (8x8 images, 2 sampler steps), each in its own
 * process as a user runs them: feedback build (stopped by --limit, then completed), feedback
 * simulate, reward train, reward score, sample (rejection sampling), finetune (stopped by
 * --max-steps, then resumed) and the beta = 0 / no-unlabeled ablation.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { captionNoiseFlags, captionNoiseOverrides } from '../../src/cli/caption_noise.js';
import { UserError } from '../../src/cli/errors.js';
import { countWeightsOption, PRETRAIN_CLIP_SPEC } from '../../src/cli/pretrain.js';
import { PRETRAIN_DIFFUSION_SPEC } from '../../src/cli/pretrain_diffusion.js';
import { buildModelData } from '../../src/finetune/run_finetune.js';
import { loadPipeline } from '../../src/models/t2i_checkpoint.js';
import { examplesFromLabels } from '../../src/reward/data.js';
import { rewardHeldOutAccuracy, rewardSizeAblation } from '../../src/reward/run_reward.js';
import { openRunDb } from '../../src/sampling/run.js';
import { setNumThreads } from '../../src/torch/index.js';
import { DEFAULT_SCENES } from '../../src/world/corpus.js';
import { runCli, startCli, tempDir, tinyCheckpoints } from './fixtures.js';

// tiny models: one thread avoids OpenMP's per-op overhead on a shared 2-core machine
setNumThreads(1);

let dir: string;
let run: string;
let ckpt: { clipDir: string; baseDir: string };

before(() => {
  dir = tempDir();
  run = join(dir, 'run');
  ckpt = tinyCheckpoints(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('feedback build (interrupted by --limit, then completed), feedback simulate', async () => {
  const args = [
    'feedback',
    'build',
    '--run',
    run,
    '--preset',
    'smoke',
    '--model',
    ckpt.baseDir,
    '--batch',
    '16',
  ];
  const first = await runCli([...args, '--limit', '20']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /20 sampled now; 58 still to sample/);
  assert.match(first.stderr, /feedback build: 20\/20 images/);
  const db = await openRunDb(run);
  try {
    assert.equal((await db.listImages()).length, 20);
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    assert.match(
      second.stdout,
      /78 images planned: 20 were already there, 58 sampled now; the set is complete/,
    );
    assert.equal((await db.listImages({ purpose: 'feedback' })).length, 50);
    assert.equal((await db.listImages({ purpose: 'unlabeled' })).length, 28);
    const other = await runCli([...args, '--seed', '1']);
    assert.equal(other.code, 2);
    assert.equal(other.stderr.trim().split('\n').length, 1);
    assert.match(other.stderr, /other settings/);
    const sim = await runCli(['feedback', 'simulate', '--run', run, '--labelers', '2']);
    assert.equal(sim.code, 0, sim.stderr);
    assert.match(sim.stdout, /Category\s+Images\s+Labels\s+Good %\s+Bad %\s+Skip %/);
    assert.match(sim.stdout, /Total\s+50\s+100\s/);
    assert.equal((await db.listLabels()).length, 100);
    assert.deepEqual(
      (await db.listLabelers()).map((l) => [l.name, l.kind]),
      [
        ['simulated-1', 'simulated'],
        ['simulated-2', 'simulated'],
      ],
    );
    const cfg = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as {
      feedback: { preset: string; model: string };
      labels: unknown;
    };
    assert.equal(cfg.feedback.preset, 'smoke');
    assert.ok(cfg.labels);
  } finally {
    await db.close();
  }
});

test('reward train writes a reward checkpoint with metrics and a log; reward score fills the rewards table', async () => {
  // the tiny model's noise images get few "good" labels: give some images good labels so both classes exist
  const db = await openRunDb(run);
  try {
    const imgs = await db.listImages({ purpose: 'feedback' });
    const extra = await db.ensureLabeler({ name: 'helper', kind: 'human' });
    await db.recordLabels(
      imgs.map((im, i) => ({ imageId: im.id, labelerId: extra.id, value: i % 2 ? 'good' : 'bad' })),
    );
    const train = await runCli([
      'reward',
      'train',
      '--run',
      run,
      '--epochs',
      '3',
      '--hidden',
      '32',
      '--perturbed',
      '3',
    ]);
    assert.equal(train.code, 0, train.stderr);
    assert.match(train.stderr, /epoch 3\/3 train loss/);
    assert.match(train.stdout, /held-out accuracy/);
    assert.match(train.stdout, /CLIP score baseline/);
    const out = join(run, 'models', 'reward');
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as {
      class: string;
      clip: string;
      model: { embed_dim: number };
    };
    assert.equal(config.class, 'RewardModel');
    assert.equal(
      resolve(out, config.clip),
      resolve(ckpt.clipDir),
      'the reward model names the CLIP of the original model',
    );
    assert.equal(config.model.embed_dim, 16);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as Record<
      string,
      Record<string, unknown>
    >;
    for (const k of ['count', 'color', 'background', 'combination', 'all']) {
      assert.ok(k in metrics['accuracy']! && k in metrics['clip_score_accuracy']!, k);
    }
    assert.equal(lines(join(out, 'log.jsonl')).length, 3);
    assert.ok(
      readdirSync(join(run, 'cache')).some((d) => d.startsWith('clip-')),
      'embeddings cached in the run',
    );
    const score = await runCli(['reward', 'score', '--run', run]);
    assert.equal(score.code, 0, score.stderr);
    assert.match(score.stdout, /78 images scored with reward/);
    assert.equal((await db.rewardsFor('reward')).length, 78);
  } finally {
    await db.close();
  }
});

test('sample keeps the best K of N candidates by reward, resumes, and its folder can be scored into the run', async () => {
  const prompts = join(dir, 'prompts.txt');
  writeFileSync(prompts, 'Two dogs.\nA green colored apple.\nA cake on the moon.\n');
  const out = join(run, 'samples');
  const args = [
    'sample',
    '--model',
    ckpt.baseDir,
    '--reward',
    join(run, 'models', 'reward'),
    '--prompts',
    prompts,
    '--candidates',
    '4',
    '--keep',
    '2',
    '--seed',
    '5',
    '--batch',
    '8',
    '--out',
    out,
  ];
  const first = await runCli(args);
  assert.equal(first.code, 0, first.stderr);
  const manifest = lines(join(out, 'manifest.jsonl'));
  const cands = lines(join(out, 'candidates.jsonl')) as unknown as {
    prompt_index: number;
    candidates: { index: number; seed: number; reward: number }[];
  }[];
  assert.equal(manifest.length, 6);
  assert.equal(cands.length, 3);
  for (const c of cands) {
    assert.deepEqual(
      c.candidates.map((x) => x.seed),
      [0, 1, 2, 3].map((j) => 5 + c.prompt_index * 4 + j),
    );
    const best = [...c.candidates].sort((a, b) => b.reward - a.reward || a.index - b.index).slice(0, 2);
    const kept = manifest
      .filter((m) => m['prompt_index'] === c.prompt_index)
      .sort((a, b) => Number(a['rank']) - Number(b['rank']));
    assert.deepEqual(
      kept.map((m) => m['seed']),
      best.map((b) => b.seed),
    );
    for (const m of kept) assert.ok(existsSync(join(out, String(m['file']))));
  }
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(lines(join(out, 'manifest.jsonl')).length, 6, 'a finished folder is not sampled again');
  const score = await runCli(['reward', 'score', '--run', run, '--images', out, '--model-name', 'rejection']);
  assert.equal(score.code, 0, score.stderr);
  const rewards = lines(join(out, 'rewards.jsonl'));
  assert.equal(rewards.length, 6);
  // the reward recomputed from the PNGs matches the one rejection sampling used (8-bit rounding aside)
  for (let i = 0; i < 6; i++)
    assert.ok(Math.abs(Number(rewards[i]!['reward']) - Number(manifest[i]!['reward'])) < 0.05);
  const db = await openRunDb(run);
  try {
    const evals = await db.listImages({ purpose: 'eval', model: 'rejection' });
    assert.equal(evals.length, 6);
    assert.equal(evals.find((e) => e.prompt === 'Two dogs.')?.split, 'eval_seen');
  } finally {
    await db.close();
  }
});

test('finetune stops after --max-steps, continues on the next call, and writes a loadable checkpoint', async () => {
  const args = [
    'finetune',
    '--run',
    run,
    '--steps',
    '4',
    '--batch-model',
    '4',
    '--batch-pre',
    '2',
    '--log-every',
    '1',
    '--save-every',
    '10',
  ];
  const first = await runCli([...args, '--max-steps', '2']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /stopped at step 2\/4/);
  assert.ok(
    !existsSync(join(run, 'models', 'finetuned', 'config.json')),
    'no checkpoint before the last step',
  );
  const second = await runCli(args);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /step 3\/4/);
  assert.doesNotMatch(second.stderr, /step 1\/4/);
  assert.match(second.stdout, /written after 4 steps \(D_model: 50 labeled \+ 28 unlabeled images/);
  const steps = lines(join(run, 'models', 'finetuned', 'train', 'log.jsonl')).map((l) => l['step']);
  assert.deepEqual(steps, [1, 2, 3, 4]);
  const loaded = loadPipeline(join(run, 'models', 'finetuned'));
  assert.equal(loaded.textEncoderDir, resolve(ckpt.clipDir), 'same text encoder folder');
  assert.deepEqual(loaded.config.sampler, loadPipeline(ckpt.baseDir).config.sampler);
  loaded.unet.dispose();
  const abl = await runCli([
    'finetune',
    '--run',
    run,
    '--name',
    'ft_no_unlabeled_no_pretrain',
    '--beta',
    '0',
    '--no-unlabeled',
    '--steps',
    '2',
    '--batch-model',
    '4',
  ]);
  assert.equal(abl.code, 0, abl.stderr);
  assert.match(abl.stdout, /D_model: 50 labeled \+ 0 unlabeled images.*beta 0\)/);
  const clash = await runCli([...args, '--lr', '3e-4']);
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /other settings \(lr\)/);
  const cfg = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as {
    finetune: Record<string, { done: boolean }>;
  };
  assert.ok(cfg.finetune['finetuned']?.done && cfg.finetune['ft_no_unlabeled_no_pretrain']?.done);
});

test('the library behind the commands: held-out accuracy of the saved reward model, the size ablation, human-label weights', async () => {
  const db = await openRunDb(run);
  try {
    const rewardDir = join(run, 'models', 'reward');
    const metrics = JSON.parse(readFileSync(join(rewardDir, 'metrics.json'), 'utf8')) as {
      accuracy: Record<string, number>;
      clip_score_accuracy: Record<string, number>;
      config: Record<string, unknown>;
    };
    const held = await rewardHeldOutAccuracy({ runDir: run, db, rewardDir });
    const labeled = examplesFromLabels(await db.listLabels({ purpose: 'feedback' }));
    // 5-fold cross-validation by prompt: every labeled image is predicted once
    assert.equal(held.folds, 5);
    assert.equal(held.images, labeled.length);
    for (const acc of [held.reward, held.clip_score]) {
      for (const v of Object.values(acc)) assert.ok(v >= 0 && v <= 1, JSON.stringify(acc));
    }
    assert.ok(
      Object.keys(metrics.accuracy).length === 5 && Object.keys(metrics.clip_score_accuracy).length === 5,
    );
    const ablation = await rewardSizeAblation({
      runDir: run,
      db,
      clipDir: ckpt.clipDir,
      config: metrics.config,
      fractions: [0.5, 1],
    });
    assert.deepEqual(
      ablation.map((a) => a.fraction),
      [0.5, 1],
    );
    // 100% of the labels with the saved config is the same cross-validation: seeded, so equal
    assert.deepEqual(ablation[1]!.by_category, held.reward);
    // the images protocol: every labeled image predicted once too, by other folds than the prompts'
    const byImage = await rewardHeldOutAccuracy({ runDir: run, db, rewardDir, protocol: 'images' });
    assert.equal(byImage.protocol, 'images');
    assert.equal(held.protocol, 'prompts');
    assert.equal(byImage.images, labeled.length);
    for (const v of Object.values(byImage.reward)) assert.ok(v >= 0 && v <= 1);
    const ablationByImage = await rewardSizeAblation({
      runDir: run,
      db,
      clipDir: ckpt.clipDir,
      config: metrics.config,
      fractions: [1],
      protocol: 'images',
    });
    assert.deepEqual(ablationByImage[0]!.by_category, byImage.reward);
    const human = await buildModelData(db, { rewardName: 'reward', useUnlabeled: false, weights: 'human' });
    const labels = examplesFromLabels(await db.listLabels({ purpose: 'feedback' }));
    const y = new Map(labels.map((e) => [e.imageId, e.y]));
    assert.equal(human.records.length, labels.filter((e) => e.y !== null).length);
    for (const r of human.records) assert.equal(r.weight, y.get(r.imageId));
    const withRewards = await buildModelData(db, {
      rewardName: 'reward',
      useUnlabeled: true,
      weights: 'reward',
    });
    assert.equal(withRewards.records.length, 78);
    assert.equal(withRewards.missingRewards.length, 0);
  } finally {
    await db.close();
  }
});

test('Ctrl-C (SIGINT) during finetune saves the training state; the next call continues from it', async () => {
  const args = [
    'finetune',
    '--run',
    run,
    '--name',
    'interrupted',
    '--steps',
    '100000',
    '--batch-model',
    '2',
    '--batch-pre',
    '1',
    '--log-every',
    '5',
  ];
  let signalled = false;
  const { child, done } = startCli(args, {
    onStderr: (text) => {
      if (!signalled && /step 10\/100000/.test(text)) {
        signalled = true;
        child.kill('SIGINT');
      }
    },
  });
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /interrupted, saving the training state/);
  const stopped = Number(/stopped at step (\d+)\/100000/.exec(r.stdout)?.[1]);
  assert.ok(stopped >= 10, r.stdout);
  const state = JSON.parse(
    readFileSync(join(run, 'models', 'interrupted', 'train', 'state.json'), 'utf8'),
  ) as { step: number };
  assert.equal(state.step, stopped);
  const next = await runCli([...args, '--max-steps', '1']);
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stdout, new RegExp(`stopped at step ${stopped + 1}/100000`));
});

test('pretrain diffusion: caption-noise knobs are checked, and an --out trained on other knobs is left alone', async () => {
  const bad = await runCli(['pretrain', 'diffusion', '--clip', ckpt.clipDir, '--color-mention-prob', '1.5']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--color-mention-prob must be a probability in \[0, 1\], got 1\.5/);
  // the tiny original records no caption noise, so it was trained on the corpus's defaults
  const before = readFileSync(join(ckpt.baseDir, 'model.safetensors'));
  const other = await runCli([
    'pretrain',
    'diffusion',
    '--clip',
    ckpt.clipDir,
    '--out',
    ckpt.baseDir,
    '--work',
    join(dir, 'pretrain-work'),
    '--background-mention-prob',
    '0.2',
    '--steps',
    '1',
  ]);
  assert.equal(other.code, 2, other.stderr);
  assert.match(other.stderr, /holds a model trained with other caption-noise settings/);
  assert.deepEqual(readFileSync(join(ckpt.baseDir, 'model.safetensors')), before);
  assert.equal(existsSync(join(dir, 'pretrain-work', 'state.json')), false);
});

test('pretrain clip: image-tower flags are checked before anything is written', async () => {
  const out = join(dir, 'clip-flags');
  const cases: [string[], RegExp][] = [
    [['--freeze-text'], /--freeze-text needs --init/],
    [['--init', out], /--init and --out are the same folder/],
    [['--count-weights', '1,2,3'], /--count-weights must be six non-negative numbers/],
    [['--count-weights', '0,0,0,0,0,0'], /not all zero/],
    [['--degrade-prob', '2'], /--degrade-prob must be a probability in \[0, 1\], got 2/],
    [['--loose-layout-prob', '1.5'], /--loose-layout-prob must be a probability in \[0, 1\], got 1.5/],
  ];
  for (const [flags, message] of cases) {
    const r = await runCli(['pretrain', 'clip', '--out', out, '--steps', '1', ...flags]);
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.equal(existsSync(out), false);
  // the help's default is the corpus's own
  const shown = String(PRETRAIN_CLIP_SPEC.options['count-weights']!.default);
  assert.deepEqual(countWeightsOption(shown), [...DEFAULT_SCENES.countWeights]);
});

test('caption-noise knobs: every flag sets its CaptionNoise field, and the README line reproduces them', () => {
  const values = {
    'count-mention-prob': '0.2',
    'color-mention-prob': '0.25',
    'color-wrong-prob': '0.3',
    'background-mention-prob': '0.15',
    'background-wrong-prob': '0.35',
  };
  const overrides = captionNoiseOverrides(values);
  assert.deepEqual(overrides, {
    countMentionProb: 0.2,
    colorMentionProb: 0.25,
    colorWrongProb: 0.3,
    backgroundMentionProb: 0.15,
    backgroundWrongProb: 0.35,
  });
  const flags = captionNoiseFlags(overrides).trim().split(/\s+/);
  const again: Record<string, string> = {};
  for (let i = 0; i < flags.length; i += 2) again[flags[i]!.slice(2)] = flags[i + 1]!;
  assert.deepEqual(captionNoiseOverrides(again), overrides);
  assert.deepEqual(captionNoiseOverrides({}), {});
  assert.throws(
    () => captionNoiseOverrides({ 'background-wrong-prob': '1.2' }),
    (e: Error) => e instanceof UserError && /--background-wrong-prob must be a probability/.test(e.message),
  );
  for (const spec of [PRETRAIN_CLIP_SPEC, PRETRAIN_DIFFUSION_SPEC] as { options: Record<string, unknown> }[])
    for (const flag of Object.keys(values)) assert.ok(spec.options[flag], `${flag} missing from the help`);
});

test('pretrain diffusion: with no state in --work, it warm-restarts from the --out export (a fresh checkout)', async () => {
  const out = join(dir, 'warm-base');
  const common = ['pretrain', 'diffusion', '--clip', resolve('checkpoints/world/clip'), '--out', out];
  const small = ['--batch', '2', '--background-mention-prob', '0.2', '--sampler-steps', '2'];
  const first = await runCli([...common, ...small, '--work', join(dir, 'warm-a'), '--steps', '2']);
  assert.equal(first.code, 0, first.stderr);
  const exported = readFileSync(join(out, 'model.safetensors'));
  const config = () =>
    JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { trained: { steps: number } };
  assert.equal(config().trained.steps, 2);
  // the state folder is gone (runs/ is not committed); the export is all there is
  const again = await runCli([...common, ...small, '--work', join(dir, 'warm-b'), '--steps', '3']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /no state in .*warm-b; warm restart from .*warm-base at step 2/);
  assert.match(again.stdout, /stopped at step 3\/3/);
  assert.equal(config().trained.steps, 3);
  assert.notDeepEqual(readFileSync(join(out, 'model.safetensors')), exported);
  // with state in --work, that state wins over the export
  const resumed = await runCli([...common, ...small, '--work', join(dir, 'warm-b'), '--steps', '4']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.doesNotMatch(resumed.stderr, /warm restart/);
  assert.match(resumed.stdout, /stopped at step 4\/4/);
});

test('pretrain diffusion --init: starts from the UNet of another checkpoint at step 0, on another --clip', async () => {
  const from = join(dir, 'warm-base');
  if (!existsSync(join(from, 'config.json'))) {
    const made = await runCli([
      'pretrain',
      'diffusion',
      '--clip',
      resolve('checkpoints/world/clip'),
      '--out',
      from,
      '--work',
      join(dir, 'init-src'),
      '--batch',
      '2',
      '--background-mention-prob',
      '0.2',
      '--sampler-steps',
      '2',
      '--steps',
      '2',
    ]);
    assert.equal(made.code, 0, made.stderr);
  }
  const out = join(dir, 'init-out');
  // another text encoder of the world UNet's width: a copy of the shipped CLIP in another folder
  const clip2 = join(dir, 'clip2');
  cpSync(resolve('checkpoints/world/clip'), clip2, { recursive: true });
  const args = ['pretrain', 'diffusion', '--init', from, '--clip', clip2, '--out', out, '--batch', '2'];
  const same = await runCli([...args.slice(0, 6), '--out', from, '--steps', '1']);
  assert.equal(same.code, 2);
  assert.match(same.stderr, /--init and --out are the same folder/);
  const missing = await runCli(['pretrain', 'diffusion', '--init', join(dir, 'nowhere'), '--out', out]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--init .*nowhere/);
  const r = await runCli([...args, '--work', join(dir, 'init-w'), '--steps', '1', '--sampler-steps', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /starting from the weights of .*warm-base at step 0/);
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as {
    text_encoder: string;
    trained: { steps: number; init: string; command: string };
  };
  assert.equal(cfg.trained.steps, 1);
  assert.equal(cfg.trained.init, from);
  assert.match(cfg.trained.command, /--init .*warm-base --clip /);
  assert.equal(resolve(out, cfg.text_encoder), resolve(clip2));
  // a fresh checkout (no state) with that export committed: the same --init warm-restarts from it
  const again = await runCli([
    ...args,
    '--work',
    join(dir, 'init-w2'),
    '--steps',
    '2',
    '--sampler-steps',
    '2',
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /warm restart from .*init-out \(a run from --init .*warm-base\) at step 1/);
  assert.equal((JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as typeof cfg).trained.steps, 2);
});
