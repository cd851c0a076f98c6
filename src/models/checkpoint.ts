/**
 * Checkpoint folders, shared by every model class (DESIGN.md, "File formats and run layout"):
 *
 *   <dir>/config.json          {"class": "CLIPModel", ...the model's full config}
 *   <dir>/model.safetensors    the state dict, PyTorch/Hugging Face names (readable by Python's safetensors)
 *   <dir>/<extra files>        e.g. vocab.json for a tokenizer, README.md
 *
 * Weights may be stored as float16 to ship small (`dtype: 'float16'`); floating tensors are cast back to
 * float32 on load unless another dtype is asked for. Files are written to a temporary name and renamed,
 * so an interrupted save never leaves a half-written file behind.
 *
 * ```ts
 * saveCheckpoint('checkpoints/world/clip', { config: { class: 'CLIPModel', ...clip.config }, module: clip, dtype: 'float16' });
 * const ckpt = loadCheckpoint('checkpoints/world/clip');      // { config, stateDict, ... }
 * loadIntoModule(clip, ckpt.stateDict, { source: ckpt.dir });  // names any missing / mismatched tensor
 * ```
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Device,
  type DType,
  dispose,
  isFloatingDType,
  loadSafetensors,
  nn,
  saveSafetensors,
  type Tensor,
  tidy,
} from '../torch/index.js';

/** The weights file of a checkpoint folder (the name diffusers and transformers use). */
export const WEIGHTS_NAME = 'model.safetensors';
export const CONFIG_NAME = 'config.json';

/** A problem with a checkpoint folder: missing file, bad config, missing or mis-shaped tensor. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** config.json: the model class plus whatever that class needs to rebuild itself. */
export interface CheckpointConfig {
  class: string;
  [key: string]: unknown;
}

export interface SaveCheckpointOptions {
  /** written as config.json; `class` names the model class that reads it back */
  config: CheckpointConfig;
  /** the module whose stateDict() is saved (or give `tensors`) */
  module?: nn.Module;
  /** tensors to save instead of (or in addition to) the module's state dict */
  tensors?: Record<string, Tensor>;
  /** extra files by name: a string or bytes as is, anything else as pretty JSON */
  files?: Record<string, string | Uint8Array | object>;
  /** storage dtype of floating tensors (default float32); float16 halves the size for shipping */
  dtype?: 'float16' | 'float32';
  /** weights file name inside the folder (default model.safetensors) */
  weightsName?: string;
  /** safetensors string metadata (format: "pt" is always added, as transformers writes it) */
  metadata?: Record<string, string>;
}

/** Writes `data` to `path` through a temporary file and a rename. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Saves a checkpoint folder (created if needed). Existing files of the same names are replaced. */
export function saveCheckpoint(dir: string, o: SaveCheckpointOptions): void {
  if (typeof o.config?.class !== 'string' || o.config.class === '') {
    throw new CheckpointError(`saveCheckpoint(${dir}): config.class must name the model class`);
  }
  const source: Record<string, Tensor> = { ...(o.module ? o.module.stateDict() : {}), ...(o.tensors ?? {}) };
  if (Object.keys(source).length === 0)
    throw new CheckpointError(`saveCheckpoint(${dir}): nothing to save (give module or tensors)`);
  mkdirSync(dir, { recursive: true });
  const weights = join(dir, o.weightsName ?? WEIGHTS_NAME);
  const dtype: DType = o.dtype ?? 'float32';
  tidy(() => {
    const out: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(source)) {
      const cpu = t.device === 'cpu' ? t : t.cpu();
      out[k] = isFloatingDType(cpu.dtype) && cpu.dtype !== dtype ? cpu.to({ dtype }) : cpu;
    }
    const tmp = `${weights}.tmp-${process.pid}`;
    saveSafetensors(tmp, out, { format: 'pt', ...(o.metadata ?? {}) });
    renameSync(tmp, weights);
  });
  for (const [name, content] of Object.entries(o.files ?? {})) {
    const data =
      typeof content === 'string' || content instanceof Uint8Array
        ? content
        : `${JSON.stringify(content, null, 2)}\n`;
    writeFileAtomic(join(dir, name), data);
  }
  writeFileAtomic(join(dir, CONFIG_NAME), `${JSON.stringify(o.config, null, 2)}\n`);
}

/** Reads config.json of a checkpoint folder; with `expectedClass`, a different class is an error. */
export function readCheckpointConfig(
  dir: string,
  expectedClass?: string | readonly string[],
): CheckpointConfig {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new CheckpointError(`checkpoint ${dir}: no such folder`);
  const path = join(dir, CONFIG_NAME);
  if (!existsSync(path)) throw new CheckpointError(`checkpoint ${dir}: missing ${CONFIG_NAME}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CheckpointError(
      `checkpoint ${dir}: ${CONFIG_NAME} is not valid JSON (${(e as Error).message})`,
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CheckpointError(`checkpoint ${dir}: ${CONFIG_NAME} must hold a JSON object`);
  }
  const cfg = raw as Record<string, unknown>;
  // Hugging Face folders name the class in "architectures" (transformers) or "_class_name" (diffusers).
  const cls =
    typeof cfg['class'] === 'string'
      ? cfg['class']
      : typeof cfg['_class_name'] === 'string'
        ? cfg['_class_name']
        : Array.isArray(cfg['architectures']) && typeof cfg['architectures'][0] === 'string'
          ? cfg['architectures'][0]
          : undefined;
  if (cls === undefined)
    throw new CheckpointError(`checkpoint ${dir}: ${CONFIG_NAME} does not name a model class ("class")`);
  if (expectedClass !== undefined) {
    const ok = typeof expectedClass === 'string' ? [expectedClass] : expectedClass;
    if (!ok.includes(cls))
      throw new CheckpointError(`checkpoint ${dir}: holds a ${cls}, expected ${ok.join(' or ')}`);
  }
  return { ...cfg, class: cls };
}

/** Reads an extra file of a checkpoint folder as text; a missing file is a CheckpointError. */
export function readCheckpointText(dir: string, name: string): string {
  const path = join(dir, name);
  if (!existsSync(path)) throw new CheckpointError(`checkpoint ${dir}: missing ${name}`);
  return readFileSync(path, 'utf8');
}

/** Reads an extra JSON file of a checkpoint folder. */
export function readCheckpointJson(dir: string, name: string): unknown {
  const text = readCheckpointText(dir, name);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`checkpoint ${dir}: ${name} is not valid JSON (${(e as Error).message})`);
  }
}

export interface LoadedCheckpoint {
  dir: string;
  config: CheckpointConfig;
  /** tensors by name; floating ones cast to `dtype` (default float32). The caller owns them. */
  stateDict: Record<string, Tensor>;
  /** the safetensors header metadata */
  metadata: Record<string, string>;
}

/** Loads config.json and the weights of a checkpoint folder. */
export function loadCheckpoint(
  dir: string,
  o: {
    expectedClass?: string | readonly string[];
    device?: Device;
    dtype?: DType;
    weightsName?: string;
    filter?: (name: string) => boolean;
  } = {},
): LoadedCheckpoint {
  const config = readCheckpointConfig(dir, o.expectedClass);
  const path = join(dir, o.weightsName ?? WEIGHTS_NAME);
  if (!existsSync(path))
    throw new CheckpointError(`checkpoint ${dir}: missing ${o.weightsName ?? WEIGHTS_NAME}`);
  const { tensors, metadata } = loadSafetensors(path, {
    dtype: o.dtype ?? 'float32',
    ...(o.device ? { device: o.device } : {}),
    ...(o.filter ? { filter: o.filter } : {}),
  });
  return { dir, config, stateDict: tensors, metadata };
}

/**
 * Copies a loaded state dict into `module`, strictly: any missing, unexpected or mis-shaped tensor is a
 * CheckpointError naming each one (and `source`, e.g. the folder). Keys matching `ignore` are dropped
 * first (e.g. transformers' non-persistent `position_ids` buffers that old checkpoints still carry).
 */
export function loadIntoModule(
  module: nn.Module,
  stateDict: Record<string, Tensor>,
  o: { source?: string; ignore?: RegExp } = {},
): void {
  const sd = o.ignore
    ? Object.fromEntries(Object.entries(stateDict).filter(([k]) => !o.ignore!.test(k)))
    : stateDict;
  try {
    module.loadStateDict(sd, { strict: true });
  } catch (e) {
    if (e instanceof nn.StateDictError)
      throw new CheckpointError(`${o.source ?? 'checkpoint'}: ${e.message.replace(/^loadStateDict: /, '')}`);
    throw e;
  }
}

/**
 * Copies a loaded checkpoint's tensors into a freshly built `model` (strictly, as loadIntoModule),
 * frees them, moves the model to `device` and puts it in eval mode. On a bad checkpoint the model is
 * freed as well and the CheckpointError naming the tensors propagates.
 */
export function fillFromCheckpoint<M extends nn.Module>(
  model: M,
  ckpt: LoadedCheckpoint,
  o: { ignore?: RegExp; device?: Device } = {},
): M {
  try {
    loadIntoModule(model, ckpt.stateDict, { source: ckpt.dir, ...(o.ignore ? { ignore: o.ignore } : {}) });
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    disposeCheckpoint(ckpt);
  }
  if (o.device) model.to({ device: o.device });
  return model.eval();
}

/** Frees every tensor of a loaded checkpoint. */
export function disposeCheckpoint(c: LoadedCheckpoint): void {
  dispose(Object.values(c.stateDict));
}
