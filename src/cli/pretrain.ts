/**
 * `t2i-align pretrain <target>`: pretraining of the sprite world's models on its noisy-caption corpus.
 *
 *   pretrain clip        contrastive CLIP (src/models/clip_train.ts) -> checkpoints/world/clip
 *   pretrain diffusion   the original text-to-image model (src/cli/pretrain_diffusion.ts)
 *
 * Both resume from their own saved state and save on Ctrl-C.
 */
import { join, resolve } from 'node:path';
import { type CommandSpec, numberOption, parseCommand, stringOption, subcommandGroup } from './args.js';
import { CAPTION_NOISE_OPTIONS, captionNoiseOverrides } from './caption_noise.js';
import { UserError } from './errors.js';
import { formatDuration } from './progress.js';

export const run = subcommandGroup('pretrain', 'target', {
  clip: { summary: 'contrastive CLIP on the world corpus (resumable)', run: runPretrainClip },
  diffusion: {
    summary: 'the original text-to-image model on the world corpus (resumable)',
    run: async (argv) => (await import('./pretrain_diffusion.js')).runPretrainDiffusion(argv),
  },
});

export const PRETRAIN_CLIP_SPEC: CommandSpec = {
  name: 'pretrain clip',
  summary: 'contrastive CLIP pretraining on the sprite world corpus (resumable; Ctrl-C saves)',
  usage:
    't2i-align pretrain clip --out checkpoints/world/clip [--steps N] [--batch 256] [--seed 0] [--lr 5e-4] [--resume]',
  options: {
    out: {
      type: 'string',
      default: 'checkpoints/world/clip',
      help: 'checkpoint folder (also holds resume/ and log.jsonl)',
    },
    steps: { type: 'string', default: '1500', help: 'total optimizer steps (the cosine schedule ends here)' },
    batch: { type: 'string', default: '256', help: 'pairs per step' },
    seed: { type: 'string', default: '0', help: 'seed of the weights and of the corpus stream' },
    lr: { type: 'string', default: '5e-4', help: 'peak AdamW learning rate' },
    warmup: { type: 'string', default: '100', help: 'linear warmup steps' },
    'weight-decay': { type: 'string', default: '0.1', help: 'decoupled weight decay on weight matrices' },
    'save-every': { type: 'string', default: '100', help: 'steps between checkpoints' },
    'log-every': { type: 'string', default: '10', help: 'steps between progress lines' },
    'eval-every': {
      type: 'string',
      default: '250',
      help: 'steps between quick retrieval checks on 200 images (0: off)',
    },
    'eval-images': {
      type: 'string',
      default: '1000',
      help: 'images of the final retrieval and count evaluations (0: skip)',
    },
    ...CAPTION_NOISE_OPTIONS,
    'count-weights': {
      type: 'string',
      default: '0.42,0.2,0.13,0.1,0.08,0.07',
      help: 'relative weights of 1..6 objects per scene (1,1,1,1,1,1: as many sixes as singles)',
    },
    'degrade-prob': {
      type: 'string',
      default: '0',
      help: 'share of images rendered degraded like generated samples (jitter, blur, noise)',
    },
    'loose-layout-prob': {
      type: 'string',
      default: '0',
      help: 'share of scenes laid out like generated samples (objects may touch and reach past the frame)',
    },
    init: {
      type: 'string',
      help: 'start from this CLIP checkpoint folder instead of random weights',
    },
    'freeze-text': {
      type: 'boolean',
      default: false,
      help: 'train only the image tower (a text-to-image model on this CLIP stays valid)',
    },
    device: { type: 'string', default: 'cpu', help: 'cpu, cuda or cuda:N' },
    resume: {
      type: 'boolean',
      default: false,
      help: 'continue from <out>/resume (same batch, seed and model)',
    },
  },
};

async function runPretrainClip(argv: string[]): Promise<number> {
  const parsed = parseCommand(PRETRAIN_CLIP_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const out = stringOption(v, 'out');
  const device = String(v['device']);
  const torch = await import('../torch/index.js');
  if (device.startsWith('cuda') && !torch.cudaIsAvailable())
    throw new UserError(`--device ${device}: this libtorch has no CUDA device`);
  const { DEFAULT_CLIP_TRAIN, trainCLIP } = await import('../models/clip_train.js');
  const { CheckpointError } = await import('../models/checkpoint.js');
  const { worldTokenizer } = await import('../models/tokenizer.js');
  const { DEFAULT_CORPUS, DEFAULT_NOISE, DEFAULT_SCENES, corpusBatch } = await import('../world/corpus.js');
  const train = {
    ...DEFAULT_CLIP_TRAIN,
    steps: numberOption(v, 'steps', { integer: true, min: 1 }),
    batchSize: numberOption(v, 'batch', { integer: true, min: 2 }),
    seed: numberOption(v, 'seed', { integer: true, min: 0 }),
    lr: numberOption(v, 'lr', { min: 0 }),
    warmupSteps: numberOption(v, 'warmup', { integer: true, min: 0 }),
    weightDecay: numberOption(v, 'weight-decay', { min: 0 }),
    saveEvery: numberOption(v, 'save-every', { integer: true, min: 1 }),
    logEvery: numberOption(v, 'log-every', { integer: true, min: 1 }),
    evalEvery: numberOption(v, 'eval-every', { integer: true, min: 0 }),
    device,
  };
  const evalImages = numberOption(v, 'eval-images', { integer: true, min: 0 });
  const degradeProb = numberOption(v, 'degrade-prob', { min: 0 });
  if (degradeProb > 1)
    throw new UserError(`--degrade-prob must be a probability in [0, 1], got ${degradeProb}`);
  const looseLayoutProb = numberOption(v, 'loose-layout-prob', { min: 0 });
  if (looseLayoutProb > 1)
    throw new UserError(`--loose-layout-prob must be a probability in [0, 1], got ${looseLayoutProb}`);
  const init = v['init'] === undefined ? undefined : stringOption(v, 'init');
  const freezeText = v['freeze-text'] === true;
  if (freezeText && init === undefined)
    throw new UserError('--freeze-text needs --init: a frozen text tower must come from a trained CLIP');
  if (init !== undefined && resolve(init) === resolve(out))
    throw new UserError('--init and --out are the same folder; write the new CLIP to another --out');
  const countWeights = countWeightsOption(String(v['count-weights']));
  const corpus = {
    ...DEFAULT_CORPUS,
    ...(countWeights.join() === DEFAULT_SCENES.countWeights.join()
      ? {}
      : { scenes: { ...DEFAULT_SCENES, countWeights } }),
    seed: train.seed,
    noise: { ...DEFAULT_NOISE, ...captionNoiseOverrides(v) },
    ...(degradeProb > 0 ? { degradeProb } : {}),
    ...(looseLayoutProb > 0 ? { looseLayoutProb } : {}),
  };
  // batch k = corpus items k*B .. k*B + B - 1: a pure function of (seed, k), so a resumed run sees the same data
  const source = {
    batch(index: number, size: number) {
      const items = corpusBatch(corpus, index * size, size);
      return { images: items.map((i) => i.image), captions: items.map((i) => i.caption) };
    },
  };
  // the command that reproduces the checkpoint: a resumed run continues exactly, so --resume is left out
  const command = ['t2i-align', 'pretrain', 'clip', ...argv.filter((a) => a !== '--resume')].join(' ');
  const machine = `${torch.getNumThreads()} threads, libtorch ${torch.libtorchVersion()}, device ${device}`;
  let stop = false;
  const onSignal = () => {
    process.stderr.write('pretrain clip: interrupted, saving a checkpoint...\n');
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stderr.write(
    `pretrain clip: ${train.steps} steps of ${train.batchSize} pairs into ${out} (${machine})\n`,
  );
  let result: Awaited<ReturnType<typeof trainCLIP>>;
  try {
    result = await trainCLIP(out, {
      source,
      sourceInfo: { corpus },
      tokenizer: worldTokenizer(),
      train,
      resume: v['resume'] === true,
      ...(init !== undefined ? { init } : {}),
      freezeText,
      evalImages,
      shouldStop: () => stop,
      checkpointInfo: {
        command,
        seed: train.seed,
        corpus_seed: corpus.seed,
        caption_noise: corpus.noise,
        ...(degradeProb > 0 ? { degrade_prob: degradeProb } : {}),
        ...(looseLayoutProb > 0 ? { loose_layout_prob: looseLayoutProb } : {}),
        count_weights: corpus.scenes.countWeights,
        ...(init !== undefined ? { init, freeze_text: freezeText } : {}),
        machine,
      },
      extraFiles: (step) => ({ 'README.md': readme(command, train, step, machine) }),
      onLog: (l) =>
        process.stderr.write(
          `pretrain clip: step ${l.step}/${l.steps} loss ${l.loss.toFixed(4)} acc ${l.accuracy.toFixed(3)} ` +
            `scale ${Math.exp(l.logitScale).toFixed(1)} lr ${l.lr.toExponential(2)} ${l.imagesPerSecond.toFixed(0)} img/s ` +
            `ETA ${formatDuration(l.etaSeconds)}\n`,
        ),
      onEval: (step, r) =>
        process.stderr.write(
          `pretrain clip: step ${step}: retrieval top-1 ${(100 * r.top1).toFixed(1)}% (n=${r.n}; object ${(100 * r.objectAccuracy).toFixed(0)}%, ` +
            `color ${(100 * r.colorAccuracy).toFixed(0)}%, background ${(100 * r.backgroundAccuracy).toFixed(0)}%)\n`,
        ),
    });
  } catch (e) {
    if (e instanceof CheckpointError) throw new UserError(e.message);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  result.model.dispose();
  if (result.stopped) {
    process.stdout.write(
      `pretrain clip: stopped at step ${result.step}/${train.steps}; resume with: ${resumeCommand(command)}\n`,
    );
    return 0;
  }
  const r = result.retrieval;
  const c = result.count;
  process.stdout.write(
    `pretrain clip: done, step ${result.step}; checkpoint ${out}\n` +
      `  retrieval top-1 among ${r.candidates} single-object captions: ${(100 * r.top1).toFixed(1)}% ` +
      `(top-5 ${(100 * r.top5).toFixed(1)}%, n=${r.n}; target >= 80%)\n` +
      `  CLIP score vs count correctness: AUC ${c.auc.toFixed(3)}, best-threshold accuracy ${(100 * c.bestThresholdAccuracy).toFixed(1)}% ` +
      `(chance 50%), count top-1 among 6 ${(100 * c.countTop1).toFixed(1)}% (chance 16.7%)\n` +
      `  figures in ${join(out, 'eval.json')}, loss log in ${join(out, 'log.jsonl')}\n`,
  );
  return 0;
}

/** `--count-weights a,b,c,d,e,f`: six non-negative weights of 1..6 objects, not all zero. */
export function countWeightsOption(raw: string): [number, number, number, number, number, number] {
  const w = raw.split(',').map((x) => Number(x.trim()));
  if (w.length !== 6 || w.some((x) => !Number.isFinite(x) || x < 0) || !w.some((x) => x > 0))
    throw new UserError(
      `--count-weights must be six non-negative numbers for 1..6 objects, not all zero (e.g. 1,1,1,1,1,1), got "${raw}"`,
    );
  return w as [number, number, number, number, number, number];
}

function resumeCommand(command: string): string {
  return `${command} --resume`;
}

function readme(
  command: string,
  train: { seed: number; steps: number; batchSize: number; lr: number },
  step: number,
  machine: string,
): string {
  return [
    '# World CLIP',
    '',
    "The sprite world's CLIP (Hugging Face `CLIPModel` layout; `config.json`, fp16 `model.safetensors`,",
    'word-level tokenizer in `vocab.json`). Load it with `loadCLIPModel(dir)` and `loadTokenizer(dir)`',
    '(src/models/clip.ts, src/models/tokenizer.ts).',
    '',
    `Produced by: \`${command}\` (seed ${train.seed}: weights and corpus stream; ${train.steps} steps of ${train.batchSize} pairs, lr ${train.lr}).`,
    `This save: step ${step}. Machine: ${machine}.`,
    '',
    `Resume or extend (exactly, from \`resume/\`): \`${resumeCommand(command)}\` (give a larger --steps to extend).`,
    'Loss log: `log.jsonl`; final retrieval and count figures: `eval.json`.',
    'On a shared CPU, run with `OMP_WAIT_POLICY=PASSIVE` (busy-waiting OpenMP threads slow every process down).',
    '',
  ].join('\n');
}
