/**
 * `t2i-align generate`: samples images from a text-to-image checkpoint and writes PNGs plus a JSONL
 * manifest (file, prompt, seed, sampler settings, model). Image n (counting over all prompts) uses
 * seed S + n, so any image can be reproduced alone.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SamplerSettings } from '../models/pipeline.js';
import { numberOption, type ParsedValues, parseCommand, stringOption } from './args.js';
import { UserError } from './errors.js';
import { Progress } from './progress.js';

export const GENERATE_SPEC = {
  name: 'generate',
  summary: 'sample images from a text-to-image checkpoint',
  usage: 't2i-align generate --model DIR (--prompts FILE | --prompt TEXT) --per-prompt K --seed S --out DIR',
  options: {
    model: {
      type: 'string' as const,
      default: 'checkpoints/world/base',
      help: 'text-to-image checkpoint folder',
    },
    prompt: { type: 'string' as const, help: 'one prompt' },
    prompts: {
      type: 'string' as const,
      help: 'file of prompts: one per line, or JSONL with a "prompt" field',
    },
    'per-prompt': { type: 'string' as const, default: '4', help: 'images per prompt' },
    seed: { type: 'string' as const, default: '0', help: 'seed of the first image (image n uses seed + n)' },
    steps: { type: 'string' as const, help: "DDIM steps (default: the checkpoint's)" },
    guidance: { type: 'string' as const, help: "classifier-free guidance scale (default: the checkpoint's)" },
    eta: { type: 'string' as const, help: "DDIM eta (default: the checkpoint's)" },
    batch: { type: 'string' as const, default: '64', help: 'images per batch' },
    device: { type: 'string' as const, default: 'cpu', help: 'cpu, cuda or cuda:N' },
    out: { type: 'string' as const, help: 'output folder (PNGs + manifest.jsonl)' },
  },
};

/** Reads prompts: plain lines, or JSONL objects with "prompt" (or "text"). Blank lines and # comments are skipped. */
export function readPromptFile(path: string): string[] {
  if (!existsSync(path)) throw new UserError(`no such prompts file: ${path}`);
  const prompts: string[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      if (line.startsWith('{')) {
        let obj: { prompt?: unknown; text?: unknown };
        try {
          obj = JSON.parse(line);
        } catch (e) {
          throw new UserError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
        }
        const p = obj.prompt ?? obj.text;
        if (typeof p !== 'string') throw new UserError(`${path}:${i + 1}: JSON line has no "prompt" string`);
        prompts.push(p);
      } else prompts.push(line);
    });
  if (prompts.length === 0) throw new UserError(`${path}: no prompts`);
  return prompts;
}

export function promptsFrom(values: ParsedValues): string[] {
  const one = values['prompt'];
  const file = values['prompts'];
  if (typeof one === 'string' && typeof file === 'string')
    throw new UserError('give --prompt or --prompts, not both');
  if (typeof one === 'string') return [one];
  if (typeof file === 'string') return readPromptFile(file);
  throw new UserError('give --prompt TEXT or --prompts FILE');
}

/** The checkpoint's sampler settings with --steps / --guidance / --eta applied where given. */
export function samplerFromFlags(v: ParsedValues, base: SamplerSettings): SamplerSettings {
  const sampler = { ...base };
  if (v['steps'] !== undefined) sampler.steps = numberOption(v, 'steps', { integer: true, min: 1 });
  if (v['guidance'] !== undefined) sampler.guidance = numberOption(v, 'guidance', { min: 0 });
  if (v['eta'] !== undefined) sampler.eta = numberOption(v, 'eta', { min: 0 });
  return sampler;
}

/** Every prompt must tokenize with every tokenizer; the first that does not is a UserError. */
export function checkPrompts(
  prompts: readonly string[],
  tokenizers: readonly { encode(text: string): number[] }[],
  tokenizerError: abstract new (...args: never[]) => Error,
): void {
  for (const p of prompts) {
    for (const tok of tokenizers) {
      try {
        tok.encode(p);
      } catch (e) {
        if (e instanceof tokenizerError) throw new UserError(`prompt "${p}": ${e.message}`);
        throw e;
      }
    }
  }
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(GENERATE_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const out = stringOption(v, 'out');
  const modelDir = stringOption(v, 'model');
  const prompts = promptsFrom(v);
  const perPrompt = numberOption(v, 'per-prompt', { integer: true, min: 1 });
  const seed = numberOption(v, 'seed', { integer: true, min: 0 });
  const batch = numberOption(v, 'batch', { integer: true, min: 1 });
  const { loadPipeline } = await import('../models/t2i_checkpoint.js');
  const { CheckpointError } = await import('../models/checkpoint.js');
  const { TokenizerError } = await import('../models/tokenizer.js');
  const { tensorToImages } = await import('../models/images.js');
  const { writePng } = await import('../world/png.js');
  let loaded: ReturnType<typeof loadPipeline>;
  try {
    loaded = loadPipeline(modelDir, { device: String(v['device']) });
  } catch (e) {
    if (e instanceof CheckpointError) throw new UserError(e.message);
    throw e;
  }
  const sampler = samplerFromFlags(v, loaded.config.sampler);
  // check every prompt against the tokenizer before spending compute
  checkPrompts(prompts, [loaded.textEncoder.tokenizer], TokenizerError);
  mkdirSync(out, { recursive: true });
  const all = prompts.flatMap((p, i) =>
    Array.from({ length: perPrompt }, (_, j) => ({ prompt: p, promptIndex: i, k: j })),
  );
  const progress = new Progress('generate', all.length, 'images');
  const lines: string[] = [];
  for (let start = 0; start < all.length; start += batch) {
    const chunk = all.slice(start, start + batch);
    const seeds = chunk.map((_, j) => seed + start + j);
    const images = loaded.pipeline.generate(
      chunk.map((c) => c.prompt),
      { seeds, batchSize: batch, ...sampler },
    );
    tensorToImages(images).forEach((img, j) => {
      const n = start + j;
      const file = `${String(n).padStart(5, '0')}.png`;
      writePng(join(out, file), img);
      lines.push(
        JSON.stringify({
          file,
          prompt: chunk[j]!.prompt,
          prompt_index: chunk[j]!.promptIndex,
          seed: seeds[j],
          ...sampler,
          model: modelDir,
        }),
      );
    });
    images.dispose();
    progress.update(Math.min(start + batch, all.length));
  }
  writeFileSync(join(out, 'manifest.jsonl'), `${lines.join('\n')}\n`);
  process.stdout.write(`wrote ${all.length} images and manifest.jsonl to ${out}\n`);
  return 0;
}
