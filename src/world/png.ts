/**
 * PNG read/write for RGBImage through pngjs. Writing quantises to 8 bits per channel (round to
 * nearest); reading accepts any PNG pngjs decodes (gray, palette, RGB, with or without alpha,
 * 8 or 16 bit); alpha is ignored (the color channels are taken as they are).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { assertImage, type RGBImage } from './image.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** RGBImage -> PNG bytes (8-bit RGBA, alpha 255). */
export function encodePng(img: RGBImage): Buffer {
  assertImage(img);
  const png = new PNG({ width: img.width, height: img.height });
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = img.data[i * 3 + c]!;
      png.data[i * 4 + c] = Math.round((v < 0 ? 0 : Math.min(v, 1)) * 255);
    }
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}

/** PNG bytes -> RGBImage. Throws an Error whose message says what is wrong with the bytes. */
export function decodePng(bytes: Buffer, what = 'image'): RGBImage {
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw new Error(`${what} is not a PNG file (bad signature)`);
  }
  let png: PNG;
  try {
    png = PNG.sync.read(bytes);
  } catch (e) {
    throw new Error(`${what} is not a readable PNG: ${(e as Error).message}`);
  }
  const n = png.width * png.height;
  const data = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[i * 3] = png.data[i * 4]! / 255;
    data[i * 3 + 1] = png.data[i * 4 + 1]! / 255;
    data[i * 3 + 2] = png.data[i * 4 + 2]! / 255;
  }
  return { width: png.width, height: png.height, data };
}

/** Reads a PNG file. Throws with the path in the message when it is missing or not a PNG. */
export function readPng(path: string): RGBImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${(e as Error).message}`,
    );
  }
  return decodePng(bytes, path);
}

/** Writes an RGBImage as a PNG file. */
export function writePng(path: string, img: RGBImage): void {
  writeFileSync(path, encodePng(img));
}
