/**
 * A trained reward model as a checkpoint folder, and as a function of (image, prompt):
 *
 *   <dir>/config.json        {class: "RewardModel", model: {embed_dim, hidden, features},
 *                             clip: "<CLIP checkpoint folder, relative to this one>", clip_fingerprint, train: RewardConfig}
 *   <dir>/model.safetensors  the MLP (mlp.0.*, mlp.2.*)
 *   <dir>/metrics.json       held-out accuracy, CLIP-score baseline, final train / validation metrics
 *   <dir>/log.jsonl          one line per epoch
 *
 * The CLIP is referenced, not copied (as the text-to-image checkpoint references its text encoder).
 */
import { isAbsolute, relative, resolve } from 'node:path';
import {
  CheckpointError,
  fillFromCheckpoint,
  loadCheckpoint,
  readCheckpointConfig,
  saveCheckpoint,
} from '../models/checkpoint.js';
import { type CLIPModel, loadCLIPModel } from '../models/clip.js';
import { imagesToTensor } from '../models/images.js';
import { loadTokenizer, type Tokenizer } from '../models/tokenizer.js';
import { noGrad, type Tensor, tidy } from '../torch/index.js';
import type { RGBImage } from '../world/image.js';
import { REWARD_FEATURES, type RewardConfig, type RewardFeatures } from './config.js';
import { EmbeddingStore, embedPixels, embedTexts } from './embeddings.js';
import { RewardModel, type RewardModelConfig } from './reward_model.js';

export const REWARD_CLASS = 'RewardModel';

export interface RewardCheckpointConfig {
  class: typeof REWARD_CLASS;
  model: RewardModelConfig;
  /** CLIP checkpoint folder whose embeddings the MLP reads, relative to the reward folder */
  clip: string;
  clip_fingerprint: string;
  train?: RewardConfig;
  [key: string]: unknown;
}

/** Writes a reward checkpoint folder; `clipDir` is stored relative to `dir`. */
export function saveRewardModel(
  dir: string,
  o: {
    model: RewardModel;
    clipDir: string;
    clipFingerprint: string;
    train?: RewardConfig;
    files?: Record<string, string | object>;
  },
): void {
  const config: RewardCheckpointConfig = {
    class: REWARD_CLASS,
    model: o.model.config,
    clip: relative(resolve(dir), resolve(o.clipDir)) || '.',
    clip_fingerprint: o.clipFingerprint,
    ...(o.train ? { train: o.train } : {}),
  };
  saveCheckpoint(dir, { config, module: o.model, dtype: 'float32', files: o.files });
}

/** Reads and checks config.json of a reward checkpoint. */
export function readRewardConfig(dir: string): RewardCheckpointConfig {
  const raw = readCheckpointConfig(dir, REWARD_CLASS);
  const m = raw['model'] as Partial<RewardModelConfig> | undefined;
  if (
    !m ||
    !Number.isInteger(m.embed_dim) ||
    !Number.isInteger(m.hidden) ||
    !REWARD_FEATURES.includes(m.features as RewardFeatures)
  ) {
    throw new CheckpointError(
      `checkpoint ${dir}: config.json "model" must hold embed_dim, hidden and features (${REWARD_FEATURES.join(' | ')})`,
    );
  }
  if (typeof raw['clip'] !== 'string' || raw['clip'] === '')
    throw new CheckpointError(`checkpoint ${dir}: config.json names no "clip" folder`);
  return {
    ...raw,
    class: REWARD_CLASS,
    model: m as RewardModelConfig,
    clip: raw['clip'],
    clip_fingerprint: String(raw['clip_fingerprint'] ?? ''),
  };
}

/** The CLIP folder a reward checkpoint reads its embeddings from (absolute). */
export function rewardClipDir(dir: string, config = readRewardConfig(dir)): string {
  return isAbsolute(config.clip) ? config.clip : resolve(dir, config.clip);
}

/** Loads the MLP of a reward checkpoint. */
export function loadRewardModel(dir: string, o: { device?: string } = {}): RewardModel {
  const config = readRewardConfig(dir);
  const ckpt = loadCheckpoint(dir, { expectedClass: REWARD_CLASS });
  return fillFromCheckpoint(new RewardModel(config.model), ckpt, { device: o.device });
}

/**
 * r(x, z) end to end: frozen CLIP embeddings (L2-normalised) -> the MLP. Prompt embeddings are kept
 * in memory, so scoring many images of one prompt (rejection sampling) embeds it once.
 */
export class RewardFunction {
  readonly #texts: EmbeddingStore;

  constructor(
    readonly model: RewardModel,
    readonly clip: CLIPModel,
    readonly tokenizer: Tokenizer,
    readonly device = 'cpu',
  ) {
    this.#texts = new EmbeddingStore(model.config.embed_dim);
  }

  /** [n, P] normalised text embeddings of `prompts` (cached). */
  textEmbeds(prompts: readonly string[]): Tensor {
    this.#texts.ensure(prompts, (t) => embedTexts(this.clip, this.tokenizer, t));
    return this.#texts.rows(prompts, this.device);
  }

  /** Rewards from embeddings: img [n, P], txt [n, P] (L2-normalised) -> [n]. */
  scoreEmbeddings(imageEmbeds: Tensor, textEmbeds: Tensor): Float32Array {
    return noGrad(() => tidy(() => this.model.forward(imageEmbeds, textEmbeds).toFloat32Array()));
  }

  /** pixels [n, 3, H, W] in [0, 1], prompts[n] -> rewards [n]. */
  score(pixels: Tensor, prompts: readonly string[]): Float32Array {
    if (pixels.size(0) !== prompts.length)
      throw new Error(`reward: ${pixels.size(0)} images but ${prompts.length} prompts`);
    return tidy(() =>
      this.scoreEmbeddings(
        embedPixels(this.clip, pixels.to({ device: this.device })),
        this.textEmbeds(prompts),
      ),
    );
  }

  scoreImages(images: readonly RGBImage[], prompts: readonly string[], batch = 256): Float32Array {
    const out = new Float32Array(images.length);
    for (let i = 0; i < images.length; i += batch) {
      tidy(() => {
        out.set(
          this.score(imagesToTensor(images.slice(i, i + batch), this.device), prompts.slice(i, i + batch)),
          i,
        );
      });
    }
    return out;
  }

  dispose(): void {
    this.#texts.dispose();
    this.model.dispose();
    this.clip.dispose();
  }
}

/** Loads a reward checkpoint with the CLIP and tokenizer it names. */
export function loadRewardFunction(dir: string, o: { device?: string } = {}): RewardFunction {
  const device = o.device ?? 'cpu';
  const config = readRewardConfig(dir);
  const clipDir = rewardClipDir(dir, config);
  const model = loadRewardModel(dir, { device });
  const clip = loadCLIPModel(clipDir, { device });
  if (clip.config.projection_dim !== config.model.embed_dim) {
    throw new CheckpointError(
      `reward ${dir}: its MLP reads ${config.model.embed_dim}-wide embeddings but CLIP ${clipDir} makes ${clip.config.projection_dim}`,
    );
  }
  return new RewardFunction(model, clip, loadTokenizer(clipDir), device);
}
