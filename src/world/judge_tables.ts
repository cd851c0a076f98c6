/**
 * Precomputed tables of the judge, built once per process from the world's own definitions
 * (palettes and sprites), never from rendered scenes:
 *
 * - `sceneryDistance`: for every RGB color quantised to 32 levels per channel, its distance to each
 *   scenery's palette reach: the union of the segments between its colors, because a blurred
 *   texture pixel is a mix of two neighbouring palette colors. Used to segment objects. [9, 32^3]
 * - `paletteColorDistance`: the same to the palette's colors themselves (no segments; a segment
 *   such as moon sky -> moon ground passes through the plain grey). Used for the background vote.
 * - `shapeTemplates`: for every object, its silhouette as a soft mask, sharp (0/1) and as a 3x3
 *   box blur leaves it. The judge matches per-pixel object fractions against these; each template
 *   also comes split up as the judge's fast path reads it (`ShapeTemplate.fast`).
 */

import { BASE_SIZE } from './backgrounds.js';
import { OUTLINE_RGB, type RGB, SCENERY_PALETTES } from './palette.js';
import { SPRITES } from './sprites.js';
import { OBJECTS, type ObjectName, SCENERIES } from './vocab.js';

const KK = OUTLINE_RGB[0] ** 2 + OUTLINE_RGB[1] ** 2 + OUTLINE_RGB[2] ** 2;
/**
 * Layout of judge.ts's fit maps: the widest window (BASE_SIZE) with a margin of zeros FIT_MARGIN
 * px wide on every side, in rows FIT_ROW long. A template's pixel offsets in these maps are fixed
 * (ShapeTemplate.fast), and a frame that sticks out of its window by up to the margin reads zeros.
 */
export const FIT_MARGIN = 8;
export const FIT_ROW = BASE_SIZE + 2 * FIT_MARGIN;

/** Quantisation levels per channel of the color look-up tables. */
export const LEVELS = 32;
const CELLS = LEVELS * LEVELS * LEVELS;

/** Index of a color in the look-up tables. */
export function lutIndex(r: number, g: number, b: number): number {
  const q = (v: number) => (v <= 0 ? 0 : v >= 1 ? LEVELS - 1 : Math.round(v * (LEVELS - 1)));
  return (q(r) * LEVELS + q(g)) * LEVELS + q(b);
}

/** A pixel is "object" when its distance to the scenery's palette exceeds this (RGB units). */
export const OBJECT_THRESHOLD = 0.16;

function segmentDistance(p: RGB, a: RGB, b: RGB): number {
  const ab0 = b[0] - a[0];
  const ab1 = b[1] - a[1];
  const ab2 = b[2] - a[2];
  const len2 = ab0 * ab0 + ab1 * ab1 + ab2 * ab2;
  let t = len2 > 0 ? ((p[0] - a[0]) * ab0 + (p[1] - a[1]) * ab1 + (p[2] - a[2]) * ab2) / len2 : 0;
  t = t < 0 ? 0 : Math.min(t, 1);
  return Math.hypot(p[0] - a[0] - t * ab0, p[1] - a[1] - t * ab1, p[2] - a[2] - t * ab2);
}

/** Distance from a color to the reach of a palette (its colors and the segments between them). */
export function paletteDistance(p: RGB, palette: readonly RGB[]): number {
  return nearestSegment(p, palette).distance;
}

/** The segment (i, j) of a palette nearest to a color (i = j for a color itself) and the distance to it. */
function nearestSegment(p: RGB, palette: readonly RGB[]): { i: number; j: number; distance: number } {
  let best = { i: 0, j: 0, distance: Infinity };
  for (let i = 0; i < palette.length; i++) {
    for (let j = i; j < palette.length; j++) {
      const distance = segmentDistance(p, palette[i]!, palette[j]!);
      if (distance < best.distance) best = { i, j, distance };
    }
  }
  return best;
}

function cellColor(idx: number): RGB {
  const b = idx % LEVELS;
  const g = Math.floor(idx / LEVELS) % LEVELS;
  const r = Math.floor(idx / (LEVELS * LEVELS));
  return [r / (LEVELS - 1), g / (LEVELS - 1), b / (LEVELS - 1)];
}

export interface JudgeTables {
  /** [SCENERIES.length * 32^3] distance of each quantised color to each scenery's palette reach (segments) */
  sceneryDistance: Float32Array;
  /** [SCENERIES.length * 32^3] distance of each quantised color to the nearest color of each palette */
  paletteColorDistance: Float32Array;
  /** [SCENERIES.length * 32^3] index (within the palette) of that nearest color */
  nearestColor: Uint8Array;
  /** [SCENERIES.length * 32^3] the nearest segment's end colors i, j packed as i * 16 + j */
  nearestSegment: Uint8Array;
}

let tables: JudgeTables | undefined;

/** The look-up tables (built on first use, about 50 ms). */
export function judgeTables(): JudgeTables {
  if (tables) return tables;
  const sceneryDistance = new Float32Array(SCENERIES.length * CELLS);
  const paletteColorDistance = new Float32Array(SCENERIES.length * CELLS);
  const nearestColor = new Uint8Array(SCENERIES.length * CELLS);
  const nearestSeg = new Uint8Array(SCENERIES.length * CELLS);
  const palettes = SCENERIES.map((s) => Object.values(SCENERY_PALETTES[s]));
  for (let idx = 0; idx < CELLS; idx++) {
    const c = cellColor(idx);
    for (let s = 0; s < palettes.length; s++) {
      const seg = nearestSegment(c, palettes[s]!);
      sceneryDistance[s * CELLS + idx] = seg.distance;
      nearestSeg[s * CELLS + idx] = seg.i * 16 + seg.j;
      let near = Infinity;
      palettes[s]!.forEach((q, k) => {
        const d = Math.hypot(c[0] - q[0], c[1] - q[1], c[2] - q[2]);
        if (d < near) {
          near = d;
          nearestColor[s * CELLS + idx] = k;
        }
      });
      paletteColorDistance[s * CELLS + idx] = near;
    }
  }
  tables = { sceneryDistance, paletteColorDistance, nearestColor, nearestSegment: nearestSeg };
  return tables;
}

/** An object's silhouette as a soft mask, with the fill and outline parts kept apart for color reading. */
export interface ShapeTemplate {
  object: ObjectName;
  blurred: boolean;
  /** frame size: the sprite's size, plus one pixel on every side when blurred */
  width: number;
  height: number;
  /** [height * width] fraction of the pixel covered by the object (fill + outline) */
  alpha: Float32Array;
  /** [height * width] fraction covered by the fill */
  fill: Float32Array;
  /** [height * width] fraction covered by the outline */
  outline: Float32Array;
  /** sum of alpha^2 */
  energy: number;
  /** centroid of alpha^2 in frame coordinates (pixel centres at +0.5) */
  centroid: { x: number; y: number };
  /** the pixels where fill or outline is non-zero: frame coordinates, the two fractions and their products */
  support: {
    x: Int32Array;
    y: Int32Array;
    fill: Float32Array;
    outline: Float32Array;
    /**
     * [support * 9] per pixel, interleaved for judge.ts's `placeGain` (its pixel-by-pixel path): f,
     * f (f + o), f^2, f o, then the coefficients of the gain's background terms (f+o)^2,
     * -2 o (o+f), 2 (f+o), -2 o, o^2 |k|^2
     */
    coef: Float32Array;
    /** sums over the support of f^2, f o and o^2 |k|^2 */
    fillSq: number;
    fillOutline: number;
    outlineSq: number;
  };
  /**
   * The template as `placeGain`'s fast path reads it. Offsets are y * FIT_ROW + x in frame
   * coordinates, since the judge's fit maps have rows FIT_ROW long.
   * A blurred silhouette's fractions are the sharp sprite's box-blurred (f = B F, o = B O, B the 3x3
   * mean), so its terms linear in the pixels, sum f y and sum (f+o) y.b etc., equal the sharp
   * sprite's sums over box-filtered maps: those need only the sprite's own pixels. The terms
   * quadratic in (f, o) involve only the background and run over the whole blurred support.
   */
  fast: {
    /** the sprite's fill pixels (shifted by the blurred frame's 1 px pad) */
    fillAt: Int32Array;
    /** the sprite's outline pixels */
    outlineAt: Int32Array;
    /** blurred templates: the support, for the background terms (empty for sharp templates, whose maps hold them) */
    blendAt: Int32Array;
    /** [blendAt * 3] per pixel: f (f+o), (f+o)^2, -2 o (f+o) */
    blendCoef: Float64Array;
    /**
     * [(height + 1) * (width + 1) * 3] integral images of f^2, f o and o^2 |k|^2 over the frame:
     * their sums over the part of a frame that lies inside the window
     */
    constants: Float64Array;
  };
  /** where the sprite's top-left corner sits in this frame */
  spriteDx: number;
  spriteDy: number;
}

function template(object: ObjectName, blurred: boolean): ShapeTemplate {
  const s = SPRITES[object];
  const pad = blurred ? 1 : 0;
  const width = s.width + 2 * pad;
  const height = s.height + 2 * pad;
  const at = (x: number, y: number, v: number) => {
    const sx = x - pad;
    const sy = y - pad;
    if (sx < 0 || sy < 0 || sx >= s.width || sy >= s.height) return 0;
    return s.mask[sy * s.width + sx] === v ? 1 : 0;
  };
  const fill = new Float32Array(width * height);
  const outline = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let f = 0;
      let o = 0;
      if (blurred) {
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            f += at(x + dx, y + dy, 1);
            o += at(x + dx, y + dy, 2);
          }
        }
        f /= 9;
        o /= 9;
      } else {
        f = at(x, y, 1);
        o = at(x, y, 2);
      }
      fill[y * width + x] = f;
      outline[y * width + x] = o;
    }
  }
  const alpha = new Float32Array(width * height);
  let energy = 0;
  for (let i = 0; i < alpha.length; i++) {
    alpha[i] = fill[i]! + outline[i]!;
    energy += alpha[i]! * alpha[i]!;
  }
  const nz = [...alpha.keys()].filter((i) => alpha[i]! > 0);
  const coef = Float32Array.from(
    nz.flatMap((i) => {
      const f = fill[i]!;
      const o = outline[i]!;
      return [f, f * (f + o), f * f, f * o, (f + o) ** 2, -2 * o * (o + f), 2 * (f + o), -2 * o, o * o * KK];
    }),
  );
  // summed in support order, as judge.ts's pixel-by-pixel path sums them
  let fillSq = 0;
  let fillOutline = 0;
  let outlineSq = 0;
  for (let c = 0; c < coef.length; c += 9) {
    fillSq += coef[c + 2]!;
    fillOutline += coef[c + 3]!;
    outlineSq += coef[c + 8]!;
  }
  const support = {
    x: Int32Array.from(nz.map((i) => i % width)),
    y: Int32Array.from(nz.map((i) => Math.floor(i / width))),
    fill: Float32Array.from(nz.map((i) => fill[i]!)),
    outline: Float32Array.from(nz.map((i) => outline[i]!)),
    coef,
    fillSq,
    fillOutline,
    outlineSq,
  };
  const spriteAt = (v: number) => {
    const at: number[] = [];
    for (let y = 0; y < s.height; y++) {
      for (let x = 0; x < s.width; x++)
        if (s.mask[y * s.width + x] === v) at.push((y + pad) * FIT_ROW + x + pad);
    }
    return Int32Array.from(at);
  };
  const blend = blurred ? nz : [];
  const constants = new Float64Array((height + 1) * (width + 1) * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const f = fill[y * width + x]!;
      const o = outline[y * width + x]!;
      const here = [f * f, f * o, o * o * KK];
      for (let c = 0; c < 3; c++) {
        const at = (i: number, j: number) => (i * (width + 1) + j) * 3 + c;
        constants[at(y + 1, x + 1)] =
          here[c]! + constants[at(y, x + 1)]! + constants[at(y + 1, x)]! - constants[at(y, x)]!;
      }
    }
  }
  const fast = {
    fillAt: spriteAt(1),
    outlineAt: spriteAt(2),
    blendAt: Int32Array.from(blend.map((i) => Math.floor(i / width) * FIT_ROW + (i % width))),
    blendCoef: Float64Array.from(
      blend.flatMap((i) => {
        const f = fill[i]!;
        const o = outline[i]!;
        return [f * (f + o), (f + o) ** 2, -2 * o * (o + f)];
      }),
    ),
    constants,
  };
  let mx = 0;
  let my = 0;
  for (let i = 0; i < alpha.length; i++) {
    mx += alpha[i]! ** 2 * ((i % width) + 0.5);
    my += alpha[i]! ** 2 * (Math.floor(i / width) + 0.5);
  }
  const centroid = { x: mx / energy, y: my / energy };
  return {
    object,
    blurred,
    width,
    height,
    alpha,
    fill,
    outline,
    energy,
    centroid,
    support,
    fast,
    spriteDx: pad,
    spriteDy: pad,
  };
}

let templates: ShapeTemplate[] | undefined;

/** Sharp and blurred template of every object: [sharp dog, blurred dog, sharp cat, ...]. */
export function shapeTemplates(): ShapeTemplate[] {
  if (!templates) templates = OBJECTS.flatMap((o) => [template(o, false), template(o, true)]);
  return templates;
}

let sharpIndex: Map<string, ObjectName> | undefined;

/** Key of a binary mask given as row bitmasks (bit x set = inside), used by `sharpSilhouettes`. */
export function maskKey(width: number, height: number, rows: ArrayLike<number>): string {
  let key = `${width}x${height}`;
  for (let y = 0; y < height; y++) key += `,${rows[y]}`;
  return key;
}

/**
 * Exact silhouettes of the sprites (fill and outline pixels), keyed by `maskKey`: a crisp,
 * unblurred object segments to exactly one of these, which lets the judge skip the model fit.
 */
export function sharpSilhouettes(): Map<string, ObjectName> {
  if (sharpIndex) return sharpIndex;
  sharpIndex = new Map();
  for (const object of OBJECTS) {
    const s = SPRITES[object];
    const rows: number[] = [];
    for (let y = 0; y < s.height; y++) {
      let r = 0;
      for (let x = 0; x < s.width; x++) if (s.mask[y * s.width + x]) r |= 1 << x;
      rows.push(r);
    }
    const key = maskKey(s.width, s.height, rows);
    if (sharpIndex.has(key))
      throw new Error(`sprites ${sharpIndex.get(key)} and ${object} have the same silhouette`);
    sharpIndex.set(key, object);
  }
  return sharpIndex;
}
