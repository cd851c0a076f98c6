/** Conversions between the world's RGBImage (HWC floats in [0, 1]) and image tensors [B, 3, H, W]. */

import { fromTypedArray, type Tensor } from '../torch/index.js';
import type { RGBImage } from '../world/image.js';

/** RGBImage[] -> [B, 3, H, W] float32 in [0, 1] on `device`. All images must share one size. */
export function imagesToTensor(images: readonly RGBImage[], device = 'cpu'): Tensor {
  if (images.length === 0) throw new Error('imagesToTensor: no images');
  const { width: W, height: H } = images[0]!;
  const data = new Float32Array(images.length * 3 * H * W);
  images.forEach((img, b) => {
    if (img.width !== W || img.height !== H)
      throw new Error(`imagesToTensor: image ${b} is ${img.width}x${img.height}, expected ${W}x${H}`);
    const base = b * 3 * H * W;
    for (let p = 0; p < H * W; p++) {
      data[base + p] = img.data[p * 3]!;
      data[base + H * W + p] = img.data[p * 3 + 1]!;
      data[base + 2 * H * W + p] = img.data[p * 3 + 2]!;
    }
  });
  return fromTypedArray(data, [images.length, 3, H, W], { device });
}

/** [B, 3, H, W] in [0, 1] (any device/dtype) -> RGBImage[] (values clamped to [0, 1]). */
export function tensorToImages(t: Tensor): RGBImage[] {
  const [B, C, H, W] = t.shape as [number, number, number, number];
  if (C !== 3) throw new Error(`tensorToImages: expected 3 channels, got ${C}`);
  const src = t.toFloat32Array();
  const out: RGBImage[] = [];
  for (let b = 0; b < B; b++) {
    const data = new Float32Array(H * W * 3);
    const base = b * 3 * H * W;
    for (let p = 0; p < H * W; p++) {
      for (let c = 0; c < 3; c++) data[p * 3 + c] = Math.min(1, Math.max(0, src[base + c * H * W + p]!));
    }
    out.push({ width: W, height: H, data });
  }
  return out;
}
