/**
 * The degradation the judge must survive (issue 3, "degraded renders"): what a small generative
 * model's samples look like next to clean renders.
 *
 *   1. each object moves by +-1 px and its paint by +-0.08 per channel (render-time jitter),
 *   2. a 3x3 box blur (edges replicate),
 *   3. Gaussian noise, sigma 0.05, added per channel and clipped to [0, 1].
 * The blur comes before the noise, so the noise reaches the judge at full strength.
 */
import { cloneImage, type RGBImage } from './image.js';
import { type RenderOptions, renderScene, type Scene } from './render.js';
import type { Rng } from './rng.js';

export interface DegradeOptions {
  /** standard deviation of the additive Gaussian noise on [0, 1] pixels (default 0.05) */
  noiseSigma: number;
  /** apply a 3x3 box blur before the noise (default true) */
  blur: boolean;
  /** per-object position jitter in pixels (default 1) */
  positionJitter: number;
  /** per-object, per-channel paint jitter (default 0.08) */
  colorJitter: number;
}

export const DEFAULT_DEGRADE: Readonly<DegradeOptions> = {
  noiseSigma: 0.05,
  blur: true,
  positionJitter: 1,
  colorJitter: 0.08,
};

/** 3x3 box blur with replicated edges. [H, W, 3] -> [H, W, 3] */
export function boxBlur3(img: RGBImage): RGBImage {
  const { width: w, height: h, data } = img;
  const out = cloneImage(img);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
          const i = (yy * w + xx) * 3;
          r += data[i]!;
          g += data[i + 1]!;
          b += data[i + 2]!;
        }
      }
      const o = (y * w + x) * 3;
      out.data[o] = r / 9;
      out.data[o + 1] = g / 9;
      out.data[o + 2] = b / 9;
    }
  }
  return out;
}

/** Adds N(0, sigma^2) per channel and clips to [0, 1]. Returns a new image. */
export function addNoise(img: RGBImage, sigma: number, rng: Rng): RGBImage {
  const out = cloneImage(img);
  for (let i = 0; i < out.data.length; i++) {
    const v = out.data[i]! + sigma * rng.normal();
    out.data[i] = v < 0 ? 0 : Math.min(v, 1);
  }
  return out;
}

/** Renders `scene` with the degradation applied (steps 1-3 above). */
export function renderDegraded(
  scene: Scene,
  rng: Rng,
  options: Partial<DegradeOptions> & Pick<RenderOptions, 'size'> = {},
): RGBImage {
  const o = { ...DEFAULT_DEGRADE, ...options };
  let img = renderScene(scene, {
    colorJitter: o.colorJitter,
    positionJitter: o.positionJitter,
    rng,
    ...(options.size !== undefined ? { size: options.size } : {}),
  });
  if (o.blur) img = boxBlur3(img);
  if (o.noiseSigma > 0) img = addNoise(img, o.noiseSigma, rng);
  return img;
}
