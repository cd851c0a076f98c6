/**
 * `t2i-align pretrain diffusion`: pretrains the sprite world's original text-to-image model on the
 * world's noisy-caption corpus, with the frozen world CLIP text encoder. Resumable from its work
 * folder; on every checkpoint it exports the EMA weights (fp16) as a text-to-image checkpoint to
 * --out and writes a sample grid. Ctrl-C saves and stops.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { numberOption, parseCommand, stringOption } from './args.js';
import {
  CAPTION_NOISE_OPTIONS,
  captionNoiseFlags,
  captionNoiseOverrides,
  sameCaptionNoise,
} from './caption_noise.js';
import { UserError } from './errors.js';
import { formatDuration } from './progress.js';

export const PRETRAIN_DIFFUSION_SPEC = {
  name: 'pretrain diffusion',
  summary: 'pretrain the original text-to-image model on the sprite world (resumable)',
  options: {
    out: {
      type: 'string' as const,
      default: 'checkpoints/world/base',
      help: 'text-to-image checkpoint folder to export to',
    },
    work: {
      type: 'string' as const,
      default: 'runs/pretrain-diffusion',
      help: 'training state folder (resume from here)',
    },
    clip: {
      type: 'string' as const,
      default: 'checkpoints/world/clip',
      help: 'CLIP checkpoint whose text tower is the frozen text encoder',
    },
    steps: { type: 'string' as const, default: '15000', help: 'total optimizer steps' },
    batch: { type: 'string' as const, default: '64', help: 'batch size' },
    lr: { type: 'string' as const, default: '5e-4', help: 'AdamW learning rate (after warmup)' },
    seed: {
      type: 'string' as const,
      default: '0',
      help: 'seed of the weights, the data order and the noise',
    },
    'save-every': {
      type: 'string' as const,
      default: '250',
      help: 'steps between checkpoints (and exports, sample grids)',
    },
    'sampler-steps': {
      type: 'string' as const,
      default: '25',
      help: "DDIM steps of the exported checkpoint's default sampler (does not change training)",
    },
    'sampler-guidance': {
      type: 'string' as const,
      default: '5',
      help: "guidance scale of the exported checkpoint's default sampler (does not change training)",
    },
    init: {
      type: 'string' as const,
      help:
        'start from the UNet weights of this text-to-image checkpoint at step 0 (fresh warmup, EMA ramp and ' +
        'optimizer): re-attach a trained UNet to another --clip text encoder',
    },
    'prediction-type': {
      type: 'string' as const,
      default: 'v_prediction',
      help: 'what the UNet predicts: v_prediction or epsilon',
    },
    ...CAPTION_NOISE_OPTIONS,
    device: { type: 'string' as const, default: 'cpu', help: 'cpu, cuda or cuda:N' },
  },
};

/** Fixed prompts of the sample grid: one per row, four seeds each. */
const GRID_PROMPTS = [
  'Two dogs.',
  'A green colored apple.',
  'A cake on the moon.',
  'Three blue cars in the forest.',
  'A red colored bear.',
  'Four cups on the table.',
];

export async function runPretrainDiffusion(argv: string[]): Promise<number> {
  const parsed = parseCommand(PRETRAIN_DIFFUSION_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const out = stringOption(v, 'out');
  const work = stringOption(v, 'work');
  const clipDir = stringOption(v, 'clip');
  const device = String(v['device']);
  const { DEFAULT_DIFFUSION_TRAIN, trainDiffusion } = await import('../models/diffusion_train.js');
  const config = {
    ...DEFAULT_DIFFUSION_TRAIN,
    steps: numberOption(v, 'steps', { integer: true, min: 1 }),
    batchSize: numberOption(v, 'batch', { integer: true, min: 1 }),
    lr: numberOption(v, 'lr', { min: 0 }),
    seed: numberOption(v, 'seed', { integer: true, min: 0 }),
    saveEvery: numberOption(v, 'save-every', { integer: true, min: 1 }),
    device,
  };
  const { loadTextEncoder, savePipeline } = await import('../models/t2i_checkpoint.js');
  const { CheckpointError } = await import('../models/checkpoint.js');
  const { WORLD_UNET_CONFIG } = await import('../models/unet.js');
  const { WORLD_SCHEDULER_CONFIG } = await import('../models/scheduler_ddpm.js');
  const predictionType = String(v['prediction-type']);
  if (predictionType !== 'v_prediction' && predictionType !== 'epsilon')
    throw new UserError(`--prediction-type must be v_prediction or epsilon, got "${predictionType}"`);
  const schedulerConfig = { ...WORLD_SCHEDULER_CONFIG, prediction_type: predictionType } as const;
  const sampler = {
    steps: numberOption(v, 'sampler-steps', { integer: true, min: 1 }),
    guidance: numberOption(v, 'sampler-guidance', { min: 0 }),
    eta: 0,
  };
  const { TextToImagePipeline } = await import('../models/pipeline.js');
  const { tensorToImages } = await import('../models/images.js');
  const { DEFAULT_CORPUS, DEFAULT_NOISE, corpusBatch } = await import('../world/corpus.js');
  const noiseOverrides = captionNoiseOverrides(v);
  const { imageGrid } = await import('../world/grid.js');
  const { writePng } = await import('../world/png.js');
  let textEncoder: ReturnType<typeof loadTextEncoder>;
  try {
    textEncoder = loadTextEncoder(clipDir, device);
  } catch (e) {
    if (e instanceof CheckpointError)
      throw new UserError(`--clip ${clipDir}: ${e.message} (run \`t2i-align pretrain clip\` first)`);
    throw e;
  }
  const corpus = { ...DEFAULT_CORPUS, seed: config.seed, noise: { ...DEFAULT_NOISE, ...noiseOverrides } };
  let init: { stateDict: Record<string, import('../torch/index.js').Tensor>; step: number } | undefined;
  const hasState = existsSync(join(work, 'state.json'));
  const initDir = v['init'] === undefined ? undefined : stringOption(v, 'init');
  const { loadCheckpoint, readCheckpointConfig } = await import('../models/checkpoint.js');
  if (initDir !== undefined) {
    if (resolve(initDir) === resolve(out))
      throw new UserError('--init and --out are the same folder; export the new model to another --out');
    const { readPipelineConfig } = await import('../models/t2i_checkpoint.js');
    let initConfig: ReturnType<typeof readPipelineConfig>;
    try {
      initConfig = readPipelineConfig(initDir);
    } catch (e) {
      if (e instanceof CheckpointError) throw new UserError(`--init ${initDir}: ${e.message}`);
      throw e;
    }
    if (initConfig.scheduler.prediction_type !== predictionType)
      throw new UserError(
        `--init ${initDir} predicts ${initConfig.scheduler.prediction_type}, this run ${predictionType}`,
      );
    if (JSON.stringify(initConfig.unet) !== JSON.stringify(WORLD_UNET_CONFIG))
      throw new UserError(`--init ${initDir}: its UNet config is not the world UNet's`);
  }
  // Warm restart: no training state in --work but an exported checkpoint in --out (e.g. a fresh
  // machine with the committed checkpoint): continue from its weights and step. An --init run
  // continues only an export of the same --init run made with the same knobs; it replaces any other.
  if (!hasState && existsSync(join(out, 'config.json'))) {
    // the config decides whether the weights are wanted at all: read them only to continue from them
    const exportedConfig = readCheckpointConfig(out, 'TextToImagePipeline');
    const trainedInfo = exportedConfig['trained'] as
      | { steps?: number; caption_noise?: unknown; init?: string }
      | undefined;
    const trained = trainedInfo?.steps ?? 0;
    const exported = (exportedConfig['scheduler'] as { prediction_type?: string } | undefined)
      ?.prediction_type;
    // exports from before the knobs were recorded were trained on the default noise
    const sameNoise = sameCaptionNoise(trainedInfo?.caption_noise ?? DEFAULT_NOISE, corpus.noise);
    const continues =
      initDir === undefined ||
      (trainedInfo?.init !== undefined && resolve(trainedInfo.init) === resolve(initDir) && sameNoise);
    if (continues && !sameNoise) {
      throw new UserError(
        `${out} holds a model trained with other caption-noise settings; give the same knobs, or another --out`,
      );
    }
    if (continues && exported === predictionType) {
      const ckpt = loadCheckpoint(out, { expectedClass: 'TextToImagePipeline', device });
      init = { stateDict: ckpt.stateDict, step: trained };
      const from = initDir !== undefined ? ` (a run from --init ${initDir})` : '';
      process.stderr.write(
        `pretrain diffusion: no state in ${work}; warm restart from ${out}${from} at step ${trained}\n`,
      );
    } else if (continues) {
      process.stderr.write(
        `pretrain diffusion: ${out} predicts ${exported ?? 'epsilon'}, this run ${predictionType}: ` +
          `training from scratch; the first export replaces it\n`,
      );
    }
  }
  if (!hasState && init === undefined && initDir !== undefined) {
    init = {
      stateDict: loadCheckpoint(initDir, { expectedClass: 'TextToImagePipeline', device }).stateDict,
      step: 0,
    };
    process.stderr.write(`pretrain diffusion: starting from the weights of ${initDir} at step 0\n`);
  }
  // a resumed run must see the same corpus: its batches are a pure function of (corpus, step)
  const commandPath = join(work, 'command.json');
  if (existsSync(join(work, 'state.json')) && existsSync(commandPath)) {
    const before = (JSON.parse(readFileSync(commandPath, 'utf8')) as { corpus?: { noise?: unknown } }).corpus
      ?.noise;
    if (before !== undefined && !sameCaptionNoise(before, corpus.noise))
      throw new UserError(
        `${work} was trained with other caption-noise settings (${commandPath}); give the same knobs, or another --work`,
      );
  }
  const data = {
    batch(index: number, size: number) {
      const items = corpusBatch(corpus, index * size, size);
      return { images: items.map((i) => i.image), captions: items.map((i) => i.caption) };
    },
  };
  mkdirSync(join(work, 'samples'), { recursive: true });
  writeFileSync(
    commandPath,
    `${JSON.stringify({ argv: ['pretrain', 'diffusion', ...argv], config, corpus }, null, 2)}\n`,
  );
  let stop = false;
  const onSignal = () => {
    process.stderr.write('pretrain diffusion: interrupted, saving a checkpoint...\n');
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const command = `t2i-align pretrain diffusion${initDir !== undefined ? ` --init ${initDir}` : ''}${clipDir !== 'checkpoints/world/clip' ? ` --clip ${clipDir}` : ''} --steps ${config.steps} --batch ${config.batchSize} --lr ${config.lr} --seed ${config.seed}${predictionType === 'epsilon' ? ' --prediction-type epsilon' : ''}${sampler.steps !== 25 ? ` --sampler-steps ${sampler.steps}` : ''}${sampler.guidance !== 5 ? ` --sampler-guidance ${sampler.guidance}` : ''}${captionNoiseFlags(noiseOverrides)}`;
  const result = await trainDiffusion({
    workDir: work,
    unetConfig: WORLD_UNET_CONFIG,
    schedulerConfig,
    config,
    data,
    textEncoder,
    shouldStop: () => stop,
    init,
    onProgress: (p) =>
      process.stderr.write(
        `pretrain diffusion: step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ` +
          `${p.imagesPerSecond.toFixed(0)} img/s ETA ${formatDuration(p.etaSeconds)}\n`,
      ),
    onCheckpoint: (step, ema) => {
      savePipeline(out, {
        unet: ema,
        scheduler: schedulerConfig,
        textEncoderDir: clipDir,
        sampler,
        extra: {
          trained: {
            steps: step,
            command,
            device,
            seed: config.seed,
            caption_noise: corpus.noise,
            ...(initDir !== undefined ? { init: initDir } : {}),
          },
        },
        files: {
          'README.md':
            '# World original text-to-image model\n\n' +
            "The sprite world's *original* model (diffusers `UNet2DConditionModel` names, fp16 EMA weights in " +
            '`model.safetensors`; the frozen text encoder is the world CLIP named in `config.json`). ' +
            'Load it with `loadPipeline(dir)` (src/models/t2i_checkpoint.ts) or `t2i-align generate --model DIR`.\n\n' +
            `Produced by: \`${command}\` (seed ${config.seed}: weights, data order and noise; ` +
            `batch ${config.batchSize}, AdamW lr ${config.lr}, EMA ${config.emaDecay}).\n` +
            `This export: step ${step} of ${config.steps}, device ${device}, ${new Date().toISOString().slice(0, 10)}.\n\n` +
            `Resume: run the same command again (state in \`${work}\`; without it the run warm-restarts from this export${initDir !== undefined ? ', given the same --init' : ''}).\n`,
        },
      });
      const pipe = new TextToImagePipeline(ema, textEncoder, schedulerConfig, device);
      const prompts = GRID_PROMPTS.flatMap((p) => [p, p, p, p]);
      // drawn with the export's own sampler: what `generate` gives by default
      const images = pipe.generate(prompts, {
        seeds: prompts.map((_, i) => i),
        steps: sampler.steps,
        guidance: sampler.guidance,
      });
      writePng(
        join(work, 'samples', `step-${String(step).padStart(6, '0')}.png`),
        imageGrid(tensorToImages(images), { columns: 4, scale: 2 }),
      );
      images.dispose();
      process.stderr.write(
        `pretrain diffusion: step ${step}: exported ${out}, sample grid in ${join(work, 'samples')}\n`,
      );
    },
  });
  process.stdout.write(
    `pretrain diffusion: stopped at step ${result.step}/${config.steps}; checkpoint ${out}\n`,
  );
  return 0;
}
