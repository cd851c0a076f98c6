/**
 * Image grids for reports and docs: images laid out row-major with a gutter, each scaled up by an
 * integer factor (nearest neighbour, so pixels stay crisp).
 */
import { createImage, type RGBImage } from './image.js';

export interface GridOptions {
  /** images per row */
  columns: number;
  /** integer upscaling of every cell (default 1) */
  scale?: number;
  /** gutter between cells, in output pixels (default 2) */
  gap?: number;
  /** gutter color (default white) */
  background?: readonly [number, number, number];
}

/** Tiles images (all the same size) into one image. [H, W, 3] x N -> [rows*(H*s+gap)+gap, ...] */
export function imageGrid(images: readonly RGBImage[], options: GridOptions): RGBImage {
  if (images.length === 0) throw new Error('imageGrid: no images');
  const { columns } = options;
  const scale = options.scale ?? 1;
  const gap = options.gap ?? 2;
  if (!Number.isInteger(columns) || columns < 1)
    throw new Error(`imageGrid: columns must be a positive integer`);
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`imageGrid: scale must be a positive integer`);
  const { width: w, height: h } = images[0]!;
  for (const [k, img] of images.entries()) {
    if (img.width !== w || img.height !== h) {
      throw new Error(
        `imageGrid: image ${k} is ${img.width}x${img.height}, expected ${w}x${h} like the first`,
      );
    }
  }
  const rows = Math.ceil(images.length / columns);
  const cw = w * scale;
  const ch = h * scale;
  const out = createImage(
    columns * (cw + gap) + gap,
    rows * (ch + gap) + gap,
    options.background ?? [1, 1, 1],
  );
  images.forEach((img, k) => {
    const ox = gap + (k % columns) * (cw + gap);
    const oy = gap + Math.floor(k / columns) * (ch + gap);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const s = (Math.floor(y / scale) * w + Math.floor(x / scale)) * 3;
        const d = ((oy + y) * out.width + ox + x) * 3;
        out.data[d] = img.data[s]!;
        out.data[d + 1] = img.data[s + 1]!;
        out.data[d + 2] = img.data[s + 2]!;
      }
    }
  });
  return out;
}
