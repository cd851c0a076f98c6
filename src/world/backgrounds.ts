/**
 * Procedural backgrounds, drawn at the 32x32 base size from their palettes (palette.ts).
 *
 * Each scenery has its own hue and a layout that tells it apart at a glance, made only of its
 * palette's (low-contrast) colors:
 *   plain          one flat grey
 *   forest         dark green undergrowth, round leaf clusters, vertical trunks
 *   city           slate skyline of buildings against a pale blue sky
 *   moon           pale grey ground pocked with darker craters
 *   field          yellow-green grass in furrow rows
 *   sea            teal water with wavy crests
 *   table          wood with wavy grain lines
 *   desert         sand with dune bands
 *   San Francisco  lavender fog and a rose bridge (two towers, deck, cables)
 * The texture is random but seeded; the palette (and so the judge's color model) is fixed.
 */
import { createImage, type RGBImage } from './image.js';
import { type RGB, SCENERY_PALETTES } from './palette.js';
import type { Rng } from './rng.js';
import type { Scenery } from './vocab.js';

/** Base size every scene is drawn at; other sizes are nearest-neighbour resamples. */
export const BASE_SIZE = 32;

class Canvas {
  readonly img: RGBImage;
  constructor(readonly size: number) {
    this.img = createImage(size, size);
  }
  set(x: number, y: number, c: RGB): void {
    if (x < 0 || y < 0 || x >= this.size || y >= this.size) return;
    const i = (y * this.size + x) * 3;
    this.img.data[i] = c[0];
    this.img.data[i + 1] = c[1];
    this.img.data[i + 2] = c[2];
  }
  rect(x0: number, y0: number, w: number, h: number, c: RGB): void {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) this.set(x, y, c);
  }
  ellipse(cx: number, cy: number, rx: number, ry: number, c: RGB): void {
    for (let y = Math.floor(cy - ry); y <= Math.ceil(cy + ry); y++) {
      for (let x = Math.floor(cx - rx); x <= Math.ceil(cx + rx); x++) {
        const u = (x - cx) / rx;
        const v = (y - cy) / ry;
        if (u * u + v * v <= 1) this.set(x, y, c);
      }
    }
  }
  /** A straight 1-px line (Bresenham). */
  line(x0: number, y0: number, x1: number, y1: number, c: RGB): void {
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    let x = x0;
    let y = y0;
    for (;;) {
      this.set(x, y, c);
      if (x === x1 && y === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y += sy;
      }
    }
  }
}

type Painter = (c: Canvas, rng: Rng) => void;

const S = BASE_SIZE;

const PAINTERS: Readonly<Record<Scenery, Painter>> = {
  plain(c) {
    c.rect(0, 0, S, S, SCENERY_PALETTES.plain.base!);
  },
  forest(c, rng) {
    const p = SCENERY_PALETTES.forest;
    c.rect(0, 0, S, S, p.shade!);
    const clusters = rng.intIn(5, 8);
    for (let k = 0; k < clusters; k++) {
      c.ellipse(
        rng.uniform(0, S),
        rng.uniform(0, S * 0.6),
        rng.uniform(3, 6),
        rng.uniform(2.5, 4.5),
        p.leaves!,
      );
    }
    const trunks = rng.intIn(3, 5);
    for (let k = 0; k < trunks; k++) {
      const x = Math.floor(((k + rng.uniform(0.1, 0.9)) * S) / trunks);
      c.rect(x, rng.intIn(6, 14), 2, S, p.trunk!);
    }
  },
  city(c, rng) {
    const p = SCENERY_PALETTES.city;
    c.rect(0, 0, S, S, p.sky!);
    let x = -rng.intIn(0, 3);
    while (x < S) {
      const w = rng.intIn(4, 8);
      c.rect(x, S - rng.intIn(12, 26), w - 1, S, p.building!);
      x += w;
    }
  },
  moon(c, rng) {
    const p = SCENERY_PALETTES.moon;
    c.rect(0, 0, S, S, p.surface!);
    const craters = rng.intIn(6, 10);
    for (let k = 0; k < craters; k++) {
      c.ellipse(rng.uniform(0, S), rng.uniform(0, S), rng.uniform(1.5, 4.5), rng.uniform(1, 2.5), p.crater!);
    }
  },
  field(c, rng) {
    const p = SCENERY_PALETTES.field;
    c.rect(0, 0, S, S, p.grass!);
    const slope = rng.uniform(-0.15, 0.15);
    for (let y = rng.intIn(0, 2); y < S + 6; y += 3) {
      for (let x = 0; x < S; x++) c.set(x, Math.round(y + slope * (x - S / 2)), p.furrow!);
    }
  },
  sea(c, rng) {
    const p = SCENERY_PALETTES.sea;
    c.rect(0, 0, S, S, p.water!);
    const freq = rng.uniform(0.3, 0.6);
    for (let y0 = rng.intIn(1, 3); y0 < S; y0 += 4) {
      const phase = rng.uniform(0, 2 * Math.PI);
      for (let x = 0; x < S; x++) c.set(x, Math.round(y0 + Math.sin(freq * x + phase)), p.crest!);
    }
  },
  table(c, rng) {
    const p = SCENERY_PALETTES.table;
    c.rect(0, 0, S, S, p.wood!);
    for (let y0 = rng.intIn(0, 3); y0 < S; y0 += rng.intIn(3, 5)) {
      const amp = rng.uniform(0, 1.2);
      const freq = rng.uniform(0.1, 0.25);
      const phase = rng.uniform(0, 2 * Math.PI);
      for (let x = 0; x < S; x++) c.set(x, Math.round(y0 + amp * Math.sin(freq * x + phase)), p.grain!);
    }
  },
  desert(c, rng) {
    const p = SCENERY_PALETTES.desert;
    c.rect(0, 0, S, S, p.sand!);
    for (let base = rng.intIn(0, 5); base < S + 4; base += rng.intIn(6, 9)) {
      const freq = rng.uniform(0.15, 0.3);
      const phase = rng.uniform(0, 2 * Math.PI);
      for (let x = 0; x < S; x++) {
        const top = Math.round(base + 2 * Math.sin(freq * x + phase));
        for (let y = top; y < top + 3; y++) c.set(x, y, p.dune!);
      }
    }
  },
  'San Francisco'(c, rng) {
    const p = SCENERY_PALETTES['San Francisco'];
    c.rect(0, 0, S, S, p.fog!);
    const deck = rng.intIn(16, 22);
    const t1 = rng.intIn(3, 8);
    const t2 = rng.intIn(20, 25);
    const top = rng.intIn(2, 5);
    // main cable sagging between the towers, side cables down to the deck ends
    const mid = (t1 + t2 + 3) / 2;
    const sag = deck - 1 - top;
    for (let x = t1 + 3; x < t2; x++) {
      const u = (x - mid) / ((t2 - t1) / 2);
      c.set(x, Math.round(top + sag * (1 - u * u)), p.bridge!);
    }
    c.line(t1 - 1, top, 0, deck - 1, p.bridge!);
    c.line(t2 + 3, top, S - 1, deck - 1, p.bridge!);
    c.rect(0, deck, S, 3, p.bridge!);
    c.rect(t1, top, 3, S - top, p.bridge!);
    c.rect(t2, top, 3, S - top, p.bridge!);
  },
};

/** A 32x32 background of the given scenery, its texture drawn from `rng`. [32, 32, 3] */
export function drawScenery(scenery: Scenery, rng: Rng): RGBImage {
  const painter = PAINTERS[scenery];
  if (!painter) throw new Error(`unknown scenery "${scenery}"`);
  const canvas = new Canvas(S);
  painter(canvas, rng);
  return canvas.img;
}
