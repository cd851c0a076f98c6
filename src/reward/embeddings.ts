/**
 * Frozen CLIP embeddings for the reward model, and their cache in the run.
 *
 * The reward model never trains CLIP, so every image and prompt is embedded once: L2-normalised
 * projections (CLIP's cosine geometry) are kept in an EmbeddingStore keyed by image path or prompt
 * text, and saved under runs/<name>/cache/clip-<fingerprint>/{images,texts}.safetensors. The
 * fingerprint hashes the CLIP checkpoint's config and weights, so another CLIP never reads a stale cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CONFIG_NAME, WEIGHTS_NAME } from '../models/checkpoint.js';
import { type CLIPModel, l2normalize } from '../models/clip.js';
import { imagesToTensor } from '../models/images.js';
import type { Tokenizer } from '../models/tokenizer.js';
import {
  cat,
  fromTypedArray,
  loadSafetensors,
  noGrad,
  saveSafetensors,
  type Tensor,
  tidy,
} from '../torch/index.js';
import type { RGBImage } from '../world/image.js';

/** First 16 hex digits of SHA-256 over a CLIP checkpoint's config.json and weights. */
export function clipFingerprint(clipDir: string): string {
  const h = createHash('sha256');
  h.update(readFileSync(join(clipDir, CONFIG_NAME)));
  h.update(readFileSync(join(clipDir, WEIGHTS_NAME)));
  return h.digest('hex').slice(0, 16);
}

/** Prompts -> [n, P] L2-normalised CLIP text embeddings (on the CLIP's device). */
export function embedTexts(
  clip: CLIPModel,
  tokenizer: Tokenizer,
  texts: readonly string[],
  batch = 512,
): Tensor {
  if (texts.length === 0) throw new Error('embedTexts: no texts');
  const device = clip.logit_scale.device;
  return noGrad(() =>
    tidy(() => {
      const parts: Tensor[] = [];
      for (let i = 0; i < texts.length; i += batch) {
        const ids = tokenizer.encodeBatch(texts.slice(i, i + batch), { length: 'longest' }).to({ device });
        parts.push(l2normalize(clip.encodeText(ids).textEmbeds));
      }
      return parts.length === 1 ? parts[0]! : cat(parts, 0);
    }),
  );
}

/**
 * Pixels [n, 3, H, W] in [0, 1] -> [n, P] L2-normalised CLIP image embeddings. Images of another size
 * than the CLIP's are resampled (bilinear), as its processor would.
 */
export function embedPixels(clip: CLIPModel, pixels: Tensor, batch = 256): Tensor {
  return noGrad(() =>
    tidy(() => {
      const parts: Tensor[] = [];
      for (let i = 0; i < pixels.size(0); i += batch) {
        parts.push(
          l2normalize(clip.encodeImage(pixels.slice(0, i, i + batch), { resize: true }).imageEmbeds),
        );
      }
      return parts.length === 1 ? parts[0]! : cat(parts, 0);
    }),
  );
}

/** RGBImages -> [n, P] L2-normalised CLIP image embeddings. */
export function embedImages(clip: CLIPModel, images: readonly RGBImage[], batch = 256): Tensor {
  const device = clip.logit_scale.device;
  const parts: Tensor[] = [];
  for (let i = 0; i < images.length; i += batch) {
    const px = imagesToTensor(images.slice(i, i + batch), device);
    parts.push(embedPixels(clip, px, batch));
    px.dispose();
  }
  const out = parts.length === 1 ? parts[0]! : cat(parts, 0);
  if (parts.length > 1) for (const p of parts) p.dispose();
  return out;
}

/**
 * Rows of width `dim` keyed by strings (image paths or prompt texts), held as a Float32Array on the
 * JS side; `matrix()` hands out one [n, dim] tensor, rebuilt only after rows were added.
 */
export class EmbeddingStore {
  readonly #index = new Map<string, number>();
  #data: Float32Array;
  #size = 0;
  #matrix: Tensor | null = null;
  #matrixDevice = '';

  constructor(readonly dim: number) {
    this.#data = new Float32Array(dim * 64);
  }

  get size(): number {
    return this.#size;
  }
  has(key: string): boolean {
    return this.#index.has(key);
  }
  keys(): string[] {
    return [...this.#index.keys()];
  }
  /** Row of `key`; throws when it is missing. */
  indexOf(key: string): number {
    const i = this.#index.get(key);
    if (i === undefined) throw new Error(`embedding store: no row for ${JSON.stringify(key)}`);
    return i;
  }
  /** Keys not stored yet (distinct, in first-seen order). */
  missing(keys: Iterable<string>): string[] {
    const out = new Set<string>();
    for (const k of keys) if (!this.#index.has(k)) out.add(k);
    return [...out];
  }
  /** Adds rows (rows [n, dim], any device). Keys already present are replaced. */
  add(keys: readonly string[], rows: Tensor): void {
    if (rows.ndim !== 2 || rows.size(0) !== keys.length || rows.size(1) !== this.dim) {
      throw new Error(`embedding store: expected rows [${keys.length}, ${this.dim}], got [${rows.shape}]`);
    }
    const data = rows.toFloat32Array();
    keys.forEach((k, r) => {
      let i = this.#index.get(k);
      if (i === undefined) {
        i = this.#size++;
        this.#index.set(k, i);
        if (this.#size * this.dim > this.#data.length) {
          const grown = new Float32Array(Math.max(this.#data.length * 2, this.#size * this.dim));
          grown.set(this.#data);
          this.#data = grown;
        }
      }
      this.#data.set(data.subarray(r * this.dim, (r + 1) * this.dim), i * this.dim);
    });
    this.#dropMatrix();
  }
  /** Embeds and adds the keys that are missing, `embed(keys) -> [n, dim]`. Returns how many were added. */
  ensure(keys: Iterable<string>, embed: (keys: string[]) => Tensor): number {
    const todo = this.missing(keys);
    if (todo.length === 0) return 0;
    const rows = embed(todo);
    try {
      this.add(todo, rows);
    } finally {
      rows.dispose();
    }
    return todo.length;
  }
  /** All rows as one [n, dim] float32 tensor on `device` (owned by the store: do not dispose it). */
  matrix(device = 'cpu'): Tensor {
    if (this.#matrix && this.#matrixDevice === device) return this.#matrix;
    this.#dropMatrix();
    const t = fromTypedArray(this.#data.slice(0, this.#size * this.dim), [this.#size, this.dim], { device });
    t.kept = true;
    this.#matrix = t;
    this.#matrixDevice = device;
    return t;
  }
  /** Rows of `keys` as a new [n, dim] tensor. */
  rows(keys: readonly string[], device = 'cpu'): Tensor {
    const out = new Float32Array(keys.length * this.dim);
    keys.forEach((k, r) => {
      const at = this.indexOf(k) * this.dim;
      out.set(this.#data.subarray(at, at + this.dim), r * this.dim);
    });
    return fromTypedArray(out, [keys.length, this.dim], { device });
  }
  #dropMatrix(): void {
    this.#matrix?.dispose();
    this.#matrix = null;
  }
  dispose(): void {
    this.#dropMatrix();
  }

  /** Saves as safetensors: tensor "embeddings" [n, dim] and the keys as JSON in the metadata. */
  save(path: string, metadata: Record<string, string> = {}): void {
    mkdirSync(dirname(path), { recursive: true });
    const t = fromTypedArray(this.#data.slice(0, this.#size * this.dim), [this.#size, this.dim]);
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      saveSafetensors(tmp, { embeddings: t }, { ...metadata, keys: JSON.stringify(this.keys()) });
    } finally {
      t.dispose();
    }
    renameSync(tmp, path);
  }

  /** Loads a store saved by save(); null when the file is missing or its metadata differs from `expect`. */
  static load(path: string, dim: number, expect: Record<string, string> = {}): EmbeddingStore | null {
    if (!existsSync(path)) return null;
    const { tensors, metadata } = loadSafetensors(path);
    const t = tensors['embeddings'];
    try {
      for (const [k, v] of Object.entries(expect)) if (metadata[k] !== v) return null;
      if (t?.ndim !== 2 || t.size(1) !== dim) return null;
      const keys = JSON.parse(metadata['keys'] ?? '[]') as string[];
      if (keys.length !== t.size(0)) return null;
      const store = new EmbeddingStore(dim);
      if (keys.length) store.add(keys, t);
      return store;
    } finally {
      for (const x of Object.values(tensors)) x.dispose();
    }
  }
}
