/**
 * The project's image type: RGB, height x width, channels interleaved (HWC), floats in [0, 1].
 * Pixel (x, y) channel c lives at `data[(y * width + x) * 3 + c]`. Other layers convert it to
 * tensors ([3, H, W] or [H, W, 3]); the world layer never needs a tensor engine.
 */
export interface RGBImage {
  width: number;
  height: number;
  /** [H, W, 3] row-major, values in [0, 1] */
  data: Float32Array;
}

/** An image filled with one color. */
export function createImage(
  width: number,
  height: number,
  fill: readonly [number, number, number] = [0, 0, 0],
): RGBImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`image size must be positive integers, got ${width}x${height}`);
  }
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    data[i * 3] = fill[0];
    data[i * 3 + 1] = fill[1];
    data[i * 3 + 2] = fill[2];
  }
  return { width, height, data };
}

/** Throws unless `img` is a well-formed RGBImage (right buffer length, finite values). */
export function assertImage(img: RGBImage, what = 'image'): void {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width <= 0 || img.height <= 0) {
    throw new Error(`${what}: bad size ${img.width}x${img.height}`);
  }
  if (!(img.data instanceof Float32Array) || img.data.length !== img.width * img.height * 3) {
    throw new Error(
      `${what}: data must be a Float32Array of width*height*3 = ${img.width * img.height * 3} values`,
    );
  }
}

export function cloneImage(img: RGBImage): RGBImage {
  return { width: img.width, height: img.height, data: new Float32Array(img.data) };
}

/** Nearest-neighbour resize (used to scale 32x32 renders up for other sizes and for docs). */
export function resizeNearest(img: RGBImage, width: number, height: number): RGBImage {
  if (width === img.width && height === img.height) return cloneImage(img);
  const out = createImage(width, height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(img.height - 1, Math.floor((y * img.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(img.width - 1, Math.floor((x * img.width) / width));
      const s = (sy * img.width + sx) * 3;
      const d = (y * width + x) * 3;
      out.data[d] = img.data[s]!;
      out.data[d + 1] = img.data[s + 1]!;
      out.data[d + 2] = img.data[s + 2]!;
    }
  }
  return out;
}

/**
 * Area-average resize: each output pixel is the mean of the input pixels whose centres fall in
 * it. Exact inverse of `resizeNearest` for integer factors; used by the judge to read any square
 * image at its 32x32 working size.
 */
export function resizeArea(img: RGBImage, width: number, height: number): RGBImage {
  if (width === img.width && height === img.height) return img;
  const out = createImage(width, height);
  const sums = new Float64Array(width * height * 3);
  const counts = new Float64Array(width * height);
  for (let y = 0; y < img.height; y++) {
    const oy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / img.height));
    for (let x = 0; x < img.width; x++) {
      const ox = Math.min(width - 1, Math.floor(((x + 0.5) * width) / img.width));
      const o = oy * width + ox;
      const s = (y * img.width + x) * 3;
      sums[o * 3] += img.data[s]!;
      sums[o * 3 + 1] += img.data[s + 1]!;
      sums[o * 3 + 2] += img.data[s + 2]!;
      counts[o]! += 1;
    }
  }
  for (let o = 0; o < width * height; o++) {
    const n = counts[o]! || 1;
    out.data[o * 3] = sums[o * 3]! / n;
    out.data[o * 3 + 1] = sums[o * 3 + 1]! / n;
    out.data[o * 3 + 2] = sums[o * 3 + 2]! / n;
  }
  return out;
}
