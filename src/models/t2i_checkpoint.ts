/**
 * The text-to-image model as a checkpoint folder:
 *   config.json        {class: "TextToImagePipeline", unet: UNetConfig, scheduler: SchedulerConfig,
 *                       text_encoder: "<folder, relative to this one>", sampler: {steps, guidance, eta}}
 *   model.safetensors  the UNet's weights (diffusers names)
 * The text encoder is the frozen CLIP text tower of another checkpoint folder (the world CLIP, or a
 * CLIPTextModel folder), referenced rather than copied: a fine-tuned model shares the original's.
 */
import { relative, resolve } from 'node:path';
import { noGrad, type Tensor } from '../torch/index.js';
import {
  CheckpointError,
  fillFromCheckpoint,
  loadCheckpoint,
  readCheckpointConfig,
  saveCheckpoint,
} from './checkpoint.js';
import { type CLIPTextModel, type CLIPTextTransformer, loadCLIPTextModel } from './clip.js';
import { DEFAULT_SAMPLER, type SamplerSettings, type TextEncoder, TextToImagePipeline } from './pipeline.js';
import { type SchedulerConfig, validateSchedulerConfig } from './scheduler_ddpm.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';
import { UNet2DConditionModel, type UNetConfig, validateUNetConfig } from './unet.js';

export const PIPELINE_CLASS = 'TextToImagePipeline';

export interface PipelineConfig {
  class: typeof PIPELINE_CLASS;
  unet: UNetConfig;
  scheduler: SchedulerConfig;
  /** folder of the CLIP checkpoint whose text tower is the (frozen) text encoder, relative to this folder */
  text_encoder: string;
  sampler: SamplerSettings;
  [key: string]: unknown;
}

/** CLIP's text tower + tokenizer as the pipeline's TextEncoder: prompts -> last hidden state [B, 77, D]. */
export class ClipTextEncoder implements TextEncoder {
  constructor(
    /** a CLIPTextModel, or the text tower of a CLIPModel (`clip.text_model`) */
    readonly model: CLIPTextModel | CLIPTextTransformer,
    readonly tokenizer: Tokenizer,
    readonly device = 'cpu',
  ) {}
  encode(prompts: string[]): Tensor {
    return noGrad(() => {
      const ids = this.tokenizer.encodeBatch(prompts).to({ device: this.device });
      const out = this.model.forward(ids);
      ids.dispose();
      out.pooled.dispose();
      return out.lastHiddenState;
    });
  }
}

export function loadTextEncoder(dir: string, device = 'cpu'): ClipTextEncoder {
  return new ClipTextEncoder(loadCLIPTextModel(dir, { device }), loadTokenizer(dir), device);
}

export interface LoadedPipeline {
  dir: string;
  config: PipelineConfig;
  /** the resolved CLIP folder of the text encoder */
  textEncoderDir: string;
  unet: UNet2DConditionModel;
  textEncoder: ClipTextEncoder;
  pipeline: TextToImagePipeline;
}

/** Reads and checks config.json of a text-to-image checkpoint. */
export function readPipelineConfig(dir: string): PipelineConfig {
  const raw = readCheckpointConfig(dir, PIPELINE_CLASS);
  try {
    return {
      ...raw,
      class: PIPELINE_CLASS,
      unet: validateUNetConfig(raw['unet'] as Partial<UNetConfig>),
      scheduler: validateSchedulerConfig(raw['scheduler'] as Partial<SchedulerConfig>),
      text_encoder: String(raw['text_encoder'] ?? ''),
      sampler: { ...DEFAULT_SAMPLER, ...((raw['sampler'] as Partial<SamplerSettings>) ?? {}) },
    };
  } catch (e) {
    throw new CheckpointError(`checkpoint ${dir}: ${(e as Error).message}`);
  }
}

/** The CLIP folder a checkpoint's config names (relative to the checkpoint folder, or absolute). */
export function textEncoderDir(dir: string, config: PipelineConfig): string {
  return resolve(dir, config.text_encoder);
}

/** Loads a text-to-image checkpoint folder and the CLIP text encoder it references. */
export function loadPipeline(dir: string, o: { device?: string } = {}): LoadedPipeline {
  const device = o.device ?? 'cpu';
  const config = readPipelineConfig(dir);
  if (!config.text_encoder)
    throw new CheckpointError(`checkpoint ${dir}: config.json names no text_encoder folder`);
  const encoderDir = textEncoderDir(dir, config);
  const ckpt = loadCheckpoint(dir, { expectedClass: PIPELINE_CLASS });
  const unet = fillFromCheckpoint(new UNet2DConditionModel(config.unet), ckpt, { device });
  const textEncoder = loadTextEncoder(encoderDir, device);
  return {
    dir,
    config,
    textEncoderDir: encoderDir,
    unet,
    textEncoder,
    pipeline: new TextToImagePipeline(unet, textEncoder, config.scheduler, device),
  };
}

/** Writes a text-to-image checkpoint folder; `textEncoderDir` is stored relative to `dir`. */
export function savePipeline(
  dir: string,
  o: {
    unet: UNet2DConditionModel;
    scheduler: Partial<SchedulerConfig>;
    textEncoderDir: string;
    sampler?: Partial<SamplerSettings>;
    dtype?: 'float16' | 'float32';
    extra?: Record<string, unknown>;
    files?: Record<string, string | object>;
  },
): void {
  const config: PipelineConfig = {
    class: PIPELINE_CLASS,
    unet: o.unet.config,
    scheduler: validateSchedulerConfig(o.scheduler),
    text_encoder: relative(resolve(dir), resolve(o.textEncoderDir)) || '.',
    sampler: { ...DEFAULT_SAMPLER, ...(o.sampler ?? {}) },
    ...(o.extra ?? {}),
  };
  saveCheckpoint(dir, { config, module: o.unet, dtype: o.dtype ?? 'float16', files: o.files });
}
