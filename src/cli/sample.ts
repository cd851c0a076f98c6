/**
 * `t2i-align sample`: rejection sampling with a reward model (paper Figure 6a: best 4 of 16).
 * Writes the kept images as PNGs, `manifest.jsonl` (one line per kept image: file, prompt, seed,
 * reward, rank, candidate, sampler, model) and `candidates.jsonl` (one line per prompt: every
 * candidate's seed and reward). Candidate j of prompt i has seed S + i * candidates + j, so the first
 * `keep` candidates are a plain random sample with known seeds.
 *
 * Resumable: prompts already in candidates.jsonl are skipped when the same command runs again.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandSpec, numberOption, parseCommand, stringOption } from './args.js';
import { UserError } from './errors.js';
import { checkPrompts, promptsFrom, samplerFromFlags } from './generate.js';
import { Progress } from './progress.js';

export const SAMPLE_SPEC: CommandSpec = {
  name: 'sample',
  summary: 'rejection sampling: draw N candidates per prompt, keep the K with the highest reward',
  usage:
    't2i-align sample --model M --reward R (--prompts FILE | --prompt TEXT) --candidates 16 --keep 4 --out DIR',
  options: {
    model: { type: 'string', default: 'checkpoints/world/base', help: 'text-to-image checkpoint folder' },
    reward: { type: 'string', help: 'reward checkpoint folder (runs/<name>/models/reward)' },
    prompt: { type: 'string', help: 'one prompt' },
    prompts: { type: 'string', help: 'file of prompts: one per line, or JSONL with a "prompt" field' },
    candidates: { type: 'string', default: '16', help: 'images drawn per prompt' },
    keep: { type: 'string', default: '4', help: 'images kept per prompt (highest reward)' },
    seed: { type: 'string', default: '0', help: 'candidate j of prompt i uses seed + i * candidates + j' },
    steps: { type: 'string', help: "DDIM steps (default: the checkpoint's)" },
    guidance: { type: 'string', help: "classifier-free guidance scale (default: the checkpoint's)" },
    eta: { type: 'string', help: "DDIM eta (default: the checkpoint's)" },
    batch: { type: 'string', default: '64', help: 'candidates per sampling batch' },
    'write-first': {
      type: 'string',
      default: '0',
      help: 'also write candidates 0..n-1 of each prompt (the n random samples) to <out>/first/<prompt index>-<k>.png',
    },
    device: { type: 'string', default: 'cpu', help: 'cpu, cuda or cuda:N' },
    out: { type: 'string', help: 'output folder' },
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(SAMPLE_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const out = stringOption(v, 'out');
  const modelDir = stringOption(v, 'model');
  const rewardDir = stringOption(v, 'reward');
  const prompts = promptsFrom(v);
  const candidates = numberOption(v, 'candidates', { integer: true, min: 1 });
  const keep = numberOption(v, 'keep', { integer: true, min: 1 });
  if (keep > candidates) throw new UserError(`--keep ${keep} is more than --candidates ${candidates}`);
  const seed = numberOption(v, 'seed', { integer: true, min: 0 });
  const batch = numberOption(v, 'batch', { integer: true, min: 1 });
  const writeFirst = numberOption(v, 'write-first', { integer: true, min: 0 });
  if (writeFirst > candidates)
    throw new UserError(`--write-first ${writeFirst} is more than --candidates ${candidates}`);
  const device = String(v['device']);
  const { loadPipeline } = await import('../models/t2i_checkpoint.js');
  const { CheckpointError } = await import('../models/checkpoint.js');
  const { TokenizerError } = await import('../models/tokenizer.js');
  const { tensorToImages } = await import('../models/images.js');
  const { loadRewardFunction } = await import('../reward/reward_function.js');
  const { promptImageName, rejectionSample } = await import('../sampling/rejection.js');
  const { writePngAtomic } = await import('../sampling/feedback_set.js');
  let loaded: ReturnType<typeof loadPipeline>;
  let reward: ReturnType<typeof loadRewardFunction>;
  try {
    loaded = loadPipeline(modelDir, { device });
  } catch (e) {
    if (e instanceof CheckpointError) throw new UserError(`--model ${modelDir}: ${e.message}`);
    throw e;
  }
  try {
    reward = loadRewardFunction(rewardDir, { device });
  } catch (e) {
    if (e instanceof CheckpointError) throw new UserError(`--reward ${rewardDir}: ${e.message}`);
    throw e;
  }
  const sampler = samplerFromFlags(v, loaded.config.sampler);
  checkPrompts(prompts, [loaded.textEncoder.tokenizer, reward.tokenizer], TokenizerError);
  mkdirSync(out, { recursive: true });
  // resume: the same settings continue; other settings in the same folder are refused
  const settings = {
    model: modelDir,
    reward: rewardDir,
    candidates,
    keep,
    seed,
    sampler,
    ...(writeFirst > 0 ? { write_first: writeFirst } : {}),
  };
  const settingsPath = join(out, 'sample.json');
  if (existsSync(settingsPath)) {
    const prev = JSON.parse(readFileSync(settingsPath, 'utf8')) as typeof settings;
    if (JSON.stringify(prev) !== JSON.stringify(settings)) {
      throw new UserError(
        `${out} holds rejection samples made with other settings (${JSON.stringify(prev)}); use another --out`,
      );
    }
  } else writeFileSync(settingsPath, `${JSON.stringify(settings, null, 2)}\n`);
  const candPath = join(out, 'candidates.jsonl');
  const done = new Map<number, string>();
  if (existsSync(candPath)) {
    for (const line of readFileSync(candPath, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const r = JSON.parse(line) as { prompt_index: number; prompt: string };
      done.set(r.prompt_index, r.prompt);
    }
  }
  for (const [i, p] of done) {
    if (prompts[i] !== p)
      throw new UserError(`${out}: prompt ${i} was "${p}", now "${prompts[i]}"; use another --out`);
  }
  // drop manifest lines of a prompt that was interrupted before it was marked done
  const manifestPath = join(out, 'manifest.jsonl');
  if (existsSync(manifestPath)) {
    const kept = readFileSync(manifestPath, 'utf8')
      .split('\n')
      .filter((line) => line.trim() && done.has((JSON.parse(line) as { prompt_index: number }).prompt_index));
    writeFileSync(manifestPath, kept.length ? `${kept.join('\n')}\n` : '');
  }
  const todo = prompts.map((p, i) => ({ p, i })).filter(({ i }) => !done.has(i));
  const progress = new Progress('sample', prompts.length * candidates, 'candidates');
  let drawn = done.size * candidates;
  const rewardName = rewardDir.replace(/\/+$/, '').split('/').pop() ?? 'reward';
  rejectionSample({
    prompts: todo.map((t) => t.p),
    promptIndices: todo.map((t) => t.i),
    candidates,
    keep,
    seed,
    batchSize: batch,
    generate: (ps, seeds) => loaded.pipeline.generate(ps, { seeds, batchSize: batch, ...sampler }),
    reward: (images, ps) => reward.score(images, ps),
    firstImages: writeFirst,
    onResult: (r) => {
      if (r.first) {
        const first = tensorToImages(r.first);
        r.first.dispose();
        mkdirSync(join(out, 'first'), { recursive: true });
        first.forEach((img, k) => {
          writePngAtomic(join(out, 'first', promptImageName(r.promptIndex, k)), img);
        });
      }
      const images = tensorToImages(r.images);
      r.images.dispose();
      const lines = r.kept.map((c, rank) => {
        const file = promptImageName(r.promptIndex, rank);
        writePngAtomic(join(out, file), images[rank]!);
        return JSON.stringify({
          file,
          prompt: r.prompt,
          prompt_index: r.promptIndex,
          rank,
          candidate: c.index,
          seed: c.seed,
          reward: c.reward,
          ...sampler,
          model: modelDir,
          reward_model: rewardName,
        });
      });
      appendFileSync(manifestPath, `${lines.join('\n')}\n`);
      // written last: a prompt counts as done only once its images and manifest lines are on disk
      appendFileSync(
        candPath,
        `${JSON.stringify({ prompt_index: r.promptIndex, prompt: r.prompt, candidates: r.candidates })}\n`,
      );
      drawn += candidates;
      progress.update(drawn);
    },
  });
  reward.dispose();
  process.stdout.write(
    `sample: kept ${keep} of ${candidates} for ${prompts.length} prompts in ${out} (manifest.jsonl, candidates.jsonl)\n`,
  );
  return 0;
}
