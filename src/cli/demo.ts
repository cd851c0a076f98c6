/**
 * `t2i-align demo`: the paper end to end on the sprite world, one stage after another in one run
 * folder (DESIGN.md, "File formats and run layout"):
 *
 *   1 feedback      feedback build: the feedback and unlabeled sets sampled from the original model
 *   2 labels        feedback simulate: two simulated labelers (good / bad / skip)
 *   3 reward        reward train: r(x, z), eq. 1
 *   4 rejection     sample: best 4 of 16 by reward on the evaluation prompts
 *   5-7 fine-tunes  finetune: finetuned (beta 1), ft_no_pretrain (beta 0),
 *                   ft_no_unlabeled_no_pretrain (beta 0, labeled images only)
 *   8 evaluate      metrics.json and the rater panels (src/eval/)
 *   9 report        report/index.html (src/report/)
 *
 * Stages 1-7 run the method's own commands, so they show the same progress and write the same files.
 * Every stage is skipped when its outputs exist and are complete, and each resumes what an
 * interruption left, so the same command continues a stopped demo. Sizes come from the preset
 * (src/eval/presets.ts); the resolved settings are written to <run>/config.json under "demo".
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DemoPreset, DemoPresetName } from '../eval/presets.js';
import { type CommandSpec, numberOption, parseCommand, stringOption } from './args.js';
import { UserError } from './errors.js';
import { formatDuration, Progress } from './progress.js';

export const DEMO_STAGES = [
  'feedback',
  'labels',
  'reward',
  'rejection',
  'finetuned',
  'ft_no_pretrain',
  'ft_no_unlabeled_no_pretrain',
  'evaluate',
  'report',
] as const;
export type DemoStage = (typeof DEMO_STAGES)[number];

export const DEMO_SPEC: CommandSpec = {
  name: 'demo',
  summary:
    'run every stage of the paper in turn (feedback, labels, reward, rejection sampling, fine-tunes, evaluation, report)',
  usage: 't2i-align demo [--preset quick|smoke|paper] [--out runs/demo] [--model checkpoints/world/base]',
  options: {
    preset: {
      type: 'string',
      default: 'quick',
      help: "smoke (test of the plumbing, < 3 min), quick (< 30 min on 2 cores), paper (the paper's data sizes)",
    },
    out: {
      type: 'string',
      default: 'runs/demo',
      help: 'run folder (resumed when it holds a demo of the same preset)',
    },
    model: {
      type: 'string',
      default: 'checkpoints/world/base',
      help: 'the original text-to-image checkpoint',
    },
    seed: {
      type: 'string',
      default: '0',
      help: 'seed of every stage (sampling, labelers, training, panels)',
    },
    'finetune-steps': {
      type: 'string',
      help: "fine-tuning steps of each of the three fine-tunes (default: the preset's)",
    },
    'eval-every': {
      type: 'string',
      help: "every n-th of the 120 evaluation prompts (default: the preset's)",
    },
    'fd-images': {
      type: 'string',
      help: "held-out corpus renders of the FD reference (default: the preset's)",
    },
    until: { type: 'string', help: `stop after this stage (${DEMO_STAGES.join(', ')})` },
    batch: { type: 'string', default: '64', help: 'images per sampling batch' },
    device: { type: 'string', default: 'cpu', help: 'cpu, cuda or cuda:N' },
  },
};

interface Stage {
  key: DemoStage;
  title: string;
  /** the stage's outputs exist and are complete */
  done: () => Promise<boolean>;
  run: () => Promise<void>;
}

/** Command-line flags from an object: {run: 'x', steps: 12} -> ['--run', 'x', '--steps', '12']. */
function flags(o: Record<string, string | number>): string[] {
  return Object.entries(o).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

/** The settings a demo run is made with (written to <run>/config.json as "demo"). */
export interface DemoSettings {
  preset: DemoPresetName;
  sizes: DemoPreset;
  model: string;
  seed: number;
  batch: number;
  device: string;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(DEMO_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const { DEMO_PRESETS, DEMO_FINETUNES } = await import('../eval/presets.js');
  const presetName = stringOption(v, 'preset');
  if (!(presetName in DEMO_PRESETS))
    throw new UserError(
      `--preset must be one of ${Object.keys(DEMO_PRESETS).join(', ')}, got "${presetName}"`,
    );
  const base = DEMO_PRESETS[presetName as DemoPresetName];
  const sizes: DemoPreset = {
    ...base,
    finetune: {
      ...base.finetune,
      ...(v['finetune-steps'] !== undefined
        ? { steps: numberOption(v, 'finetune-steps', { integer: true, min: 1 }) }
        : {}),
    },
    ...(v['eval-every'] !== undefined
      ? { evalEvery: numberOption(v, 'eval-every', { integer: true, min: 1 }) }
      : {}),
    ...(v['fd-images'] !== undefined
      ? { fdImages: numberOption(v, 'fd-images', { integer: true, min: 2 }) }
      : {}),
  };
  const until = v['until'];
  if (until !== undefined && !(DEMO_STAGES as readonly string[]).includes(String(until)))
    throw new UserError(`--until must be one of ${DEMO_STAGES.join(', ')}, got "${String(until)}"`);
  const runDir = stringOption(v, 'out');
  const settings: DemoSettings = {
    preset: presetName as DemoPresetName,
    sizes,
    model: stringOption(v, 'model'),
    seed: numberOption(v, 'seed', { integer: true, min: 0 }),
    batch: numberOption(v, 'batch', { integer: true, min: 1 }),
    device: String(v['device']),
  };
  if (!existsSync(join(settings.model, 'config.json')))
    throw new UserError(
      `--model ${settings.model}: no text-to-image checkpoint there (pretrain one with \`t2i-align pretrain diffusion\`, or give --model DIR)`,
    );
  const { readRunConfig, updateRunConfig, openRunDb, runModelDir } = await import('../sampling/run.js');
  const previous = readRunConfig(runDir)['demo'] as DemoSettings | undefined;
  // the device and the batch size change no result: a demo may continue on another machine
  const fixed = (d: DemoSettings) =>
    JSON.stringify({ preset: d.preset, sizes: d.sizes, model: d.model, seed: d.seed });
  if (previous && fixed(previous) !== fixed(settings)) {
    throw new UserError(
      `${runDir} holds a demo made with other settings (preset ${previous.preset}, model ${previous.model}, seed ${previous.seed}); ` +
        'use another --out, or the same settings to resume it',
    );
  }
  updateRunConfig(runDir, 'demo', settings);

  const s = settings;
  const rewardDir = runModelDir(runDir, 'reward');
  const samplesDir = join(runDir, 'samples', 'rejection16to4');
  const reportDir = join(runDir, 'report');
  const promptsFile = join(runDir, 'eval', 'prompts.txt');
  const { table4Texts, evalItems, REJECTION_CANDIDATES, IMAGES_PER_PROMPT } = await import(
    '../eval/eval_set.js'
  );
  const texts = table4Texts(s.sizes.evalEvery);
  const common = flags({ seed: s.seed, device: s.device });
  const cli = async (mod: Promise<{ run: (argv: string[]) => Promise<number> }>, args: string[]) => {
    const code = await (await mod).run(args);
    if (code !== 0) throw new Error(`t2i-align ${args.join(' ')} exited with code ${code}`);
  };

  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const db = await openRunDb(runDir);
  const timings: { stage: string; status: 'ran' | 'skipped'; seconds: number }[] = [];
  try {
    const { planFeedbackSet } = await import('../sampling/feedback_set.js');
    const finetunes = DEMO_FINETUNES.map(
      (f): Stage => ({
        key: f.name as DemoStage,
        title: `fine-tune ${f.name}${f.args.length ? ` (${f.args.join(' ')})` : ''}, ${s.sizes.finetune.steps} steps`,
        done: async () => {
          const path = join(runModelDir(runDir, f.name), 'config.json');
          if (!existsSync(path)) return false;
          const cfg = JSON.parse(readFileSync(path, 'utf8')) as { finetuned?: { steps?: number } };
          return cfg.finetuned?.steps === s.sizes.finetune.steps;
        },
        run: () => {
          const ft = s.sizes.finetune;
          return cli(import('./finetune.js'), [
            ...flags({
              run: runDir,
              name: f.name,
              model: s.model,
              steps: ft.steps,
              'batch-model': ft.batchModel,
              'batch-pre': ft.batchPre,
              warmup: ft.warmup,
              'log-every': ft.logEvery,
              'save-every': ft.saveEvery,
            }),
            ...f.args,
            ...common,
          ]);
        },
      }),
    );
    const stages: Stage[] = [
      {
        key: 'feedback',
        title: `feedback set (${s.sizes.feedback}) sampled from the original model`,
        done: async () => {
          const have = new Set([
            ...(await db.listImages({ purpose: 'feedback' })).map((i) => i.path),
            ...(await db.listImages({ purpose: 'unlabeled' })).map((i) => i.path),
          ]);
          return planFeedbackSet(s.sizes.feedback, { seed: s.seed }).every(
            (p) => have.has(p.path) && existsSync(join(runDir, p.path)),
          );
        },
        run: () =>
          cli(import('./feedback.js'), [
            'build',
            ...flags({ run: runDir, preset: s.sizes.feedback, model: s.model, batch: s.batch }),
            ...common,
          ]),
      },
      {
        key: 'labels',
        title: `labels from ${s.sizes.labelers} simulated labelers`,
        done: async () => {
          const images = (await db.listImages({ purpose: 'feedback' })).length;
          const labels = await db.listLabels({ purpose: 'feedback', labelerKind: 'simulated' });
          return Array.from({ length: s.sizes.labelers }, (_, i) => `simulated-${i + 1}`).every(
            (name) => images > 0 && labels.filter((l) => l.labeler === name).length === images,
          );
        },
        run: () =>
          cli(import('./feedback.js'), [
            'simulate',
            ...flags({ run: runDir, labelers: s.sizes.labelers, seed: s.seed }),
          ]),
      },
      {
        key: 'reward',
        title: 'reward model r(x, z): MSE + prompt classification',
        done: async () => {
          if (!existsSync(join(rewardDir, 'metrics.json'))) return false;
          const { readRewardConfig } = await import('../reward/reward_function.js');
          const train = readRewardConfig(rewardDir).train;
          return train?.epochs === s.sizes.rewardEpochs && train.seed === s.seed;
        },
        run: () =>
          cli(import('./reward.js'), [
            'train',
            ...flags({ run: runDir, epochs: s.sizes.rewardEpochs }),
            ...common,
          ]),
      },
      {
        key: 'rejection',
        title: `rejection sampling: best ${IMAGES_PER_PROMPT} of ${REJECTION_CANDIDATES} on ${texts.length} evaluation prompts`,
        done: async () => {
          const path = join(samplesDir, 'candidates.jsonl');
          return (
            existsSync(path) &&
            readFileSync(path, 'utf8')
              .split('\n')
              .filter((l) => l.trim()).length === texts.length
          );
        },
        run: async () => {
          mkdirSync(join(runDir, 'eval'), { recursive: true });
          writeFileSync(promptsFile, `${texts.join('\n')}\n`);
          await cli(import('./sample.js'), [
            ...flags({
              model: s.model,
              reward: rewardDir,
              prompts: promptsFile,
              candidates: REJECTION_CANDIDATES,
              keep: IMAGES_PER_PROMPT,
              out: samplesDir,
              batch: s.batch,
              // the 4 random samples of the comparison are the original's evaluation images
              'write-first': IMAGES_PER_PROMPT,
            }),
            ...common,
          ]);
        },
      },
      ...finetunes,
      {
        key: 'evaluate',
        title: `evaluation on ${texts.length} prompts: alignment, well-formed, reward, CLIP score, FD, rater panels`,
        done: async () => {
          const path = join(reportDir, 'metrics.json');
          const stamp = readRunConfig(runDir)['evaluation'] as { done?: boolean } | undefined;
          if (!existsSync(path) || !stamp?.done) return false;
          const { metricsErrors } = await import('../eval/metrics.js');
          return metricsErrors(JSON.parse(readFileSync(path, 'utf8')), { complete: true }).length === 0;
        },
        run: async () => {
          const { runEvaluation } = await import('../eval/run_eval.js');
          const { PAPER_PANELS } = await import('../eval/metrics.js');
          const { parsePanelName } = await import('../eval/panel.js');
          const pipeline = (name: string, dir: string) => ({
            name,
            source: { kind: 'pipeline' as const, dir },
          });
          const result = await runEvaluation({
            preset: s.preset,
            models: [
              { name: 'original', source: { kind: 'pipeline' as const, dir: s.model, reuse: samplesDir } },
              ...DEMO_FINETUNES.map((f) => pipeline(f.name, runModelDir(runDir, f.name))),
              { name: 'rejection16to4', source: { kind: 'samples', dir: samplesDir } },
            ],
            items: evalItems(texts),
            seed: s.seed,
            imagesDir: join(runDir, 'images', 'eval'),
            rewardDir,
            fdImages: s.sizes.fdImages,
            panels: PAPER_PANELS.map(parsePanelName),
            store: { db, root: runDir },
            databaseLabel: join(runDir, 'feedback.db'),
            labeled: { runDir, db },
            ablationFractions: s.sizes.ablationFractions,
            complete: true,
            outDir: reportDir,
            batch: s.batch,
            device: s.device,
            shouldStop: () => stop,
            progress: (label, total, unit) => new Progress(label, total, unit),
            log: (line) => process.stderr.write(`${line}\n`),
          });
          if (result)
            updateRunConfig(runDir, 'evaluation', {
              done: true,
              prompts: texts.length,
              fd_images: s.sizes.fdImages,
              seed: s.seed,
              finished: new Date().toISOString(),
            });
        },
      },
      {
        key: 'report',
        title: 'HTML report: tables, plots, image grids',
        done: async () => {
          const html = join(reportDir, 'index.html');
          const metrics = join(reportDir, 'metrics.json');
          return (
            existsSync(html) && existsSync(metrics) && statSync(html).mtimeMs >= statSync(metrics).mtimeMs
          );
        },
        run: async () => {
          const { reportFromFolder } = await import('../report/report.js');
          await reportFromFolder(reportDir, { title: `t2i-align demo (${s.preset})` });
        },
      },
    ];

    const t0 = performance.now();
    const last = until === undefined ? stages.length - 1 : stages.findIndex((st) => st.key === until);
    for (const [i, stage] of stages.entries()) {
      if (i > last) break;
      const key = stage.key;
      const head = `demo [${i + 1}/${stages.length}] ${key}: ${stage.title}`;
      const start = performance.now();
      if (await stage.done()) {
        process.stderr.write(`${head}: complete, skipped\n`);
        timings.push({ stage: key, status: 'skipped', seconds: 0 });
        continue;
      }
      process.stderr.write(`${head}\n`);
      await stage.run();
      const seconds = (performance.now() - start) / 1000;
      timings.push({ stage: key, status: 'ran', seconds });
      if (stop || !(await stage.done())) {
        process.stdout.write(
          `demo: stopped in stage ${key} after ${formatDuration((performance.now() - t0) / 1000)}; run the same command again to resume\n`,
        );
        return stop ? 130 : 1;
      }
      process.stderr.write(`demo: ${key} done in ${formatDuration(seconds)}\n`);
    }
    const total = (performance.now() - t0) / 1000;
    process.stdout.write(`\ndemo (${s.preset}) in ${resolve(runDir)}: ${formatDuration(total)}\n`);
    process.stdout.write(
      `${timings.map((t) => `  ${t.stage.padEnd(28)} ${t.status === 'ran' ? formatDuration(t.seconds) : 'skipped'}`).join('\n')}\n\n`,
    );
    const metricsPath = join(reportDir, 'metrics.json');
    if (existsSync(metricsPath)) {
      const { formatSummary } = await import('./evaluate.js');
      const { validateMetrics } = await import('../eval/metrics.js');
      process.stdout.write(formatSummary(validateMetrics(JSON.parse(readFileSync(metricsPath, 'utf8')))));
      process.stdout.write(`\nreport: ${join(reportDir, 'index.html')}\n`);
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await db.close();
  }
}
