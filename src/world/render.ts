/**
 * Scenes and the renderer: prompt -> scene (what is where) -> RGB image.
 *
 * A scene is drawn at the 32x32 base size: the scenery's procedural background, then each object
 * as its sprite (dark outline, fill in its paint). Objects never overlap: their bounding boxes
 * keep at least `MIN_GAP` pixels between them. Other sizes are nearest-neighbour resamples of the
 * base render, so a 64x64 image is the 32x32 one with every pixel doubled.
 */
import { BASE_SIZE, drawScenery } from './backgrounds.js';
import { type RGBImage, resizeNearest } from './image.js';
import { OUTLINE_RGB, PAINT_RGB } from './palette.js';
import type { Prompt } from './prompt.js';
import { Rng } from './rng.js';
import { SPRITES } from './sprites.js';
import { NATURAL_COLORS, type ObjectName, type Paint, type Scenery } from './vocab.js';

/** Minimum free pixels between two objects' bounding boxes (along x or y). */
export const MIN_GAP = 2;

/** One object of a scene; (x, y) is its sprite's top-left corner at the 32x32 base size. */
export interface PlacedObject {
  object: ObjectName;
  paint: Paint;
  x: number;
  y: number;
}

/** Everything the renderer needs; the judge never sees it. */
export interface Scene {
  scenery: Scenery;
  objects: PlacedObject[];
  /** seed of the background texture */
  textureSeed: number;
}

export interface RenderOptions {
  /** output side in pixels (default 32); any positive integer, resampled from the 32x32 base */
  size?: number;
  /** each object's paint moves by a uniform draw in [-j, j] per channel (default 0) */
  colorJitter?: number;
  /** each object moves by a uniform integer in [-j, j] along x and y (default 0) */
  positionJitter?: number;
  /** randomness for the jitters; required when a jitter is non-zero */
  rng?: Rng;
}

function boxesClear(a: PlacedObject, b: PlacedObject, gap: number): boolean {
  const sa = SPRITES[a.object];
  const sb = SPRITES[b.object];
  return (
    a.x + sa.width + gap <= b.x ||
    b.x + sb.width + gap <= a.x ||
    a.y + sa.height + gap <= b.y ||
    b.y + sb.height + gap <= a.y
  );
}

/** How tightly objects may sit: the default is the corpus's (MIN_GAP apart, wholly inside the frame). */
export interface LayoutOptions {
  /** smallest gap in pixels between two objects' boxes (0: boxes may touch) */
  gap: number;
  /** how many pixels of an object's box may lie outside the frame, per side */
  overhang: number;
}

export const DEFAULT_LAYOUT: Readonly<LayoutOptions> = { gap: MIN_GAP, overhang: 0 };

/**
 * The layout of a small generator's samples, which crowd their objects: boxes may touch, and may
 * reach 3 px past the frame (docs/models.md, "Training only the image tower").
 */
export const LOOSE_LAYOUT: Readonly<LayoutOptions> = { gap: 0, overhang: 3 };

/**
 * Places the given objects at random without overlap (random sequential placement with restarts,
 * then a jittered grid when the scene is too crowded for that). Throws if they cannot fit.
 */
export function layoutObjects(
  objects: ReadonlyArray<{ object: ObjectName; paint: Paint }>,
  rng: Rng,
  layout: Readonly<LayoutOptions> = DEFAULT_LAYOUT,
): PlacedObject[] {
  const n = objects.length;
  const { gap, overhang: o0 } = layout;
  for (let attempt = 0; attempt < 60; attempt++) {
    const placed: PlacedObject[] = [];
    for (const o of objects) {
      const s = SPRITES[o.object];
      let ok = false;
      for (let t = 0; t < 40 && !ok; t++) {
        const cand = {
          ...o,
          x: rng.intIn(-o0, BASE_SIZE - s.width + o0),
          y: rng.intIn(-o0, BASE_SIZE - s.height + o0),
        };
        if (placed.every((p) => boxesClear(p, cand, gap))) {
          placed.push(cand);
          ok = true;
        }
      }
      if (!ok) break;
    }
    if (placed.length === n) return placed;
  }
  // crowded: cells of a cols x rows grid, each object jittered inside its cell
  const cell = 9 + MIN_GAP;
  const per = Math.floor((BASE_SIZE + MIN_GAP) / cell);
  const grids: Array<[number, number]> = [
    [per, per - 1],
    [per - 1, per],
    [per, per],
  ];
  const fits = grids.filter(([c, r]) => c * r >= n);
  if (fits.length === 0) throw new Error(`cannot lay out ${n} objects in ${BASE_SIZE}x${BASE_SIZE}`);
  const [cols, rows] = rng.pick(fits);
  const cells = rng.shuffle([...Array(cols * rows).keys()]).slice(0, n);
  const cw = Math.floor((BASE_SIZE + MIN_GAP) / cols);
  const ch = Math.floor((BASE_SIZE + MIN_GAP) / rows);
  return objects.map((o, k) => {
    const s = SPRITES[o.object];
    const cx = cells[k]! % cols;
    const cy = Math.floor(cells[k]! / cols);
    const x = cx * cw + rng.intIn(0, Math.max(0, cw - MIN_GAP - s.width));
    const y = cy * ch + rng.intIn(0, Math.max(0, ch - MIN_GAP - s.height));
    return { ...o, x, y };
  });
}

/** A scene that realises `p` exactly: its count (1 if unstated), color (else natural) and background (else plain). */
export function sceneFromPrompt(p: Prompt, rng: Rng): Scene {
  const n = p.count ?? 1;
  const paint: Paint = p.color ?? NATURAL_COLORS[p.object];
  const objects = layoutObjects(
    Array.from({ length: n }, () => ({ object: p.object, paint })),
    rng,
  );
  return { scenery: p.background ?? 'plain', objects, textureSeed: rng.nextUint32() };
}

/** Draws one sprite into a 32x32 base image. */
function drawSprite(img: RGBImage, o: PlacedObject, fill: readonly [number, number, number]): void {
  const s = SPRITES[o.object];
  for (let sy = 0; sy < s.height; sy++) {
    const y = o.y + sy;
    if (y < 0 || y >= img.height) continue;
    for (let sx = 0; sx < s.width; sx++) {
      const m = s.mask[sy * s.width + sx]!;
      const x = o.x + sx;
      if (m === 0 || x < 0 || x >= img.width) continue;
      const c = m === 2 ? OUTLINE_RGB : fill;
      const i = (y * img.width + x) * 3;
      img.data[i] = c[0];
      img.data[i + 1] = c[1];
      img.data[i + 2] = c[2];
    }
  }
}

const clamp01 = (v: number) => (v < 0 ? 0 : Math.min(v, 1));

/** Renders a scene. Returns [size, size, 3] in [0, 1]. Deterministic given the scene (and rng for jitter). */
export function renderScene(scene: Scene, options: RenderOptions = {}): RGBImage {
  const size = options.size ?? BASE_SIZE;
  const colorJitter = options.colorJitter ?? 0;
  const positionJitter = options.positionJitter ?? 0;
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`render: size must be a positive integer, got ${size}`);
  if ((colorJitter > 0 || positionJitter > 0) && !options.rng) throw new Error('render: jitter needs an rng');
  const img = drawScenery(scene.scenery, new Rng(scene.textureSeed));
  for (const o of scene.objects) {
    const base = PAINT_RGB[o.paint];
    if (!base) throw new Error(`render: unknown paint "${o.paint}"`);
    let fill: [number, number, number] = [base[0], base[1], base[2]];
    let placed = o;
    if (colorJitter > 0)
      fill = fill.map((v) => clamp01(v + options.rng!.uniform(-colorJitter, colorJitter))) as typeof fill;
    if (positionJitter > 0) {
      const s = SPRITES[o.object];
      const dx = options.rng!.intIn(-positionJitter, positionJitter);
      const dy = options.rng!.intIn(-positionJitter, positionJitter);
      placed = {
        ...o,
        x: Math.max(0, Math.min(BASE_SIZE - s.width, o.x + dx)),
        y: Math.max(0, Math.min(BASE_SIZE - s.height, o.y + dy)),
      };
    }
    drawSprite(img, placed, fill);
  }
  return size === BASE_SIZE ? img : resizeNearest(img, size, size);
}

/** Renders prompt `p` from `seed`: `renderScene(sceneFromPrompt(p, new Rng(seed)), {size})`. */
export function render(p: Prompt, seed: number, size: number = BASE_SIZE): RGBImage {
  return renderScene(sceneFromPrompt(p, new Rng(seed)), { size });
}
