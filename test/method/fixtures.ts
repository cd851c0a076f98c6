/**
 * Fixtures of the method tests: tiny randomly initialised checkpoints saved as real checkpoint
 * folders (a world-tokenizer CLIP with 8x8 images and 16-wide embeddings, and a text-to-image model
 * with an 8x8 UNet whose text encoder is that CLIP), temporary run folders, and the CLI as a child process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveCheckpoint } from '../../src/models/checkpoint.js';
import { CLIPModel, clipCheckpointConfig, clipConfig } from '../../src/models/clip.js';
import { WORLD_SCHEDULER_CONFIG } from '../../src/models/scheduler_ddpm.js';
import { savePipeline } from '../../src/models/t2i_checkpoint.js';
import { worldTokenizer } from '../../src/models/tokenizer.js';
import { UNet2DConditionModel, type UNetConfig } from '../../src/models/unet.js';
import { Generator } from '../../src/torch/index.js';
import { CAPTION_WORDS } from '../../src/world/corpus.js';
import type { FeedbackSizes } from '../../src/world/feedback_prompts.js';
import { TINY_UNET } from '../models/tiny.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** 8x8 UNet conditioned on 16-wide text states (the tiny CLIP's hidden size). */
export const TINY_UNET_16: UNetConfig = { ...TINY_UNET, cross_attention_dim: 16 };

/** A few prompts per category: 2 x 2 count, 1 x 2 color, 1 x 2 background, 2 x 1 combination = 10 images. */
export const TINY_SIZES: FeedbackSizes = {
  count: { prompts: 2, imagesPerPrompt: 2 },
  color: { prompts: 1, imagesPerPrompt: 2 },
  background: { prompts: 1, imagesPerPrompt: 2 },
  combination: { prompts: 2, imagesPerPrompt: 1 },
};

export function tempDir(prefix = 't2i-method-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Saves a tiny CLIP (world tokenizer + caption words) and a tiny text-to-image model under `dir`. */
export function tinyCheckpoints(dir: string, seed = 1): { clipDir: string; baseDir: string } {
  const tokenizer = worldTokenizer(CAPTION_WORDS);
  const tower = { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 };
  const config = clipConfig({
    text_config: {
      ...tower,
      vocab_size: tokenizer.vocabSize,
      max_position_embeddings: tokenizer.maxLength,
      bos_token_id: tokenizer.bosTokenId,
      eos_token_id: tokenizer.eosTokenId,
      pad_token_id: tokenizer.padTokenId,
    },
    vision_config: { ...tower, image_size: 8, patch_size: 4, num_channels: 3 },
    projection_dim: 16,
  });
  const clipDir = join(dir, 'clip');
  const clip = new CLIPModel(config, new Generator(seed));
  saveCheckpoint(clipDir, {
    config: clipCheckpointConfig(config),
    module: clip,
    files: { 'vocab.json': tokenizer.vocabJson() },
  });
  clip.dispose();
  const baseDir = join(dir, 'base');
  const unet = new UNet2DConditionModel(TINY_UNET_16, { generator: new Generator(seed + 1) });
  savePipeline(baseDir, {
    unet,
    scheduler: WORLD_SCHEDULER_CONFIG,
    textEncoderDir: clipDir,
    sampler: { steps: 2, guidance: 2, eta: 0 },
    dtype: 'float32',
  });
  unet.dispose();
  return { clipDir, baseDir };
}

/** Starts the t2i-align CLI from source in a child process; `done` resolves when it exits. */
export function startCli(
  args: string[],
  o: { timeoutMs?: number; onStderr?: (text: string) => void } = {},
): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO, 'test', 'method', 'cli-entry.ts'), ...args],
    {
      cwd: REPO,
      env: { ...process.env, T2I_THREADS: process.env['T2I_THREADS'] ?? '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    o.onStderr?.(stderr);
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveRun, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
  return { child, done };
}

/** Runs the t2i-align CLI from source in a child process. */
export function runCli(
  args: string[],
  o: { timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return startCli(args, o).done;
}
