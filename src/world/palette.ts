/**
 * Colors of the sprite world, chosen for decodability.
 *
 * Object paints are saturated or extreme (black, white); background palettes are muted mid-tones
 * that sit in the gaps between them. Every background color (and every blend of two colors of one
 * palette) is at least 0.28 (Euclidean, RGB in [0, 1]) from every paint and from the outline, so the
 * judge can tell object pixels from background pixels by color alone, even after +-0.08 color
 * jitter. Each palette is low-contrast (its colors within 0.25 of each other) and the sceneries
 * differ by hue, so that a blurred object never looks like a piece of texture and the background
 * under an object can be inpainted from around it (test/world/palette.test.ts checks the margins).
 */
import type { Paint, Scenery } from './vocab.js';

export type RGB = readonly [number, number, number];

/** Fill colors of objects. */
export const PAINT_RGB: Readonly<Record<Paint, RGB>> = {
  red: [0.86, 0.1, 0.1],
  yellow: [0.98, 0.9, 0.12],
  green: [0.1, 0.66, 0.16],
  blue: [0.12, 0.3, 0.92],
  black: [0.1, 0.1, 0.1],
  pink: [1.0, 0.56, 0.8],
  purple: [0.56, 0.14, 0.72],
  white: [0.98, 0.98, 0.98],
  brown: [0.5, 0.27, 0.07],
  orange: [1.0, 0.5, 0.04],
};

/** The dark outline drawn around every object. */
export const OUTLINE_RGB: RGB = [0.03, 0.03, 0.05];

/**
 * Named colors of each background. Procedural textures (backgrounds.ts) use only these colors,
 * so after blur a background pixel lies on a segment between two colors of its own palette.
 */
export const SCENERY_PALETTES: Readonly<Record<Scenery, Readonly<Record<string, RGB>>>> = {
  plain: { base: [0.5, 0.5, 0.5] },
  forest: { shade: [0.32, 0.5, 0.38], leaves: [0.4, 0.58, 0.44], trunk: [0.46, 0.47, 0.36] },
  city: { sky: [0.54, 0.63, 0.78], building: [0.42, 0.5, 0.66] },
  moon: { surface: [0.76, 0.76, 0.72], crater: [0.66, 0.66, 0.63] },
  field: { grass: [0.62, 0.72, 0.4], furrow: [0.54, 0.64, 0.35] },
  sea: { water: [0.24, 0.5, 0.6], crest: [0.34, 0.6, 0.68] },
  table: { wood: [0.8, 0.62, 0.44], grain: [0.72, 0.55, 0.38] },
  desert: { sand: [0.92, 0.84, 0.6], dune: [0.86, 0.76, 0.52] },
  'San Francisco': { fog: [0.72, 0.66, 0.82], bridge: [0.7, 0.5, 0.58] },
};
