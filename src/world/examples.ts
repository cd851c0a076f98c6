/**
 * Example grids of the world for docs and reports (`t2i-align world grid`).
 *
 *   scenes    one row per background (the 8 and plain), one column per color: every background
 *             and every color at a glance, objects and counts varying along the grid
 *   objects   the 25 objects in their natural colors, centred on the plain background
 *   degraded  pairs of clean and degraded renders (the judge's degraded test)
 */
import { renderDegraded } from './degrade.js';
import { imageGrid } from './grid.js';
import type { RGBImage } from './image.js';
import { render, renderScene, sceneFromPrompt } from './render.js';
import { hashSeed, Rng } from './rng.js';
import { SPRITES } from './sprites.js';
import { COLORS, type Count, NATURAL_COLORS, OBJECTS, SCENERIES } from './vocab.js';

export const GRID_KINDS = ['scenes', 'objects', 'degraded'] as const;
export type GridKind = (typeof GRID_KINDS)[number];

/** The example grid of a kind, each 32x32 cell scaled up `scale` times. */
export function exampleGrid(kind: GridKind, seed: number, scale: number): RGBImage {
  const cells: RGBImage[] = [];
  let columns: number;
  if (kind === 'scenes') {
    SCENERIES.forEach((scenery, r) => {
      COLORS.forEach((color, c) => {
        const object = OBJECTS[(r * COLORS.length + c) % OBJECTS.length]!;
        const count = (1 + ((r + c) % 3)) as Count;
        const background = scenery === 'plain' ? undefined : scenery;
        cells.push(
          render(
            { object, count, color, ...(background ? { background } : {}) },
            hashSeed(seed, 'scenes', r, c),
          ),
        );
      });
    });
    columns = COLORS.length;
  } else if (kind === 'objects') {
    for (const object of OBJECTS) {
      const s = SPRITES[object];
      const centred = {
        object,
        paint: NATURAL_COLORS[object],
        x: (32 - s.width) >> 1,
        y: (32 - s.height) >> 1,
      };
      cells.push(renderScene({ scenery: 'plain', objects: [centred], textureSeed: seed }));
    }
    columns = 5;
  } else if (kind === 'degraded') {
    for (let k = 0; k < 8; k++) {
      const rng = new Rng(hashSeed(seed, 'degraded', k));
      const scene = sceneFromPrompt(
        {
          object: OBJECTS[(k * 7) % OBJECTS.length]!,
          count: (1 + (k % 6)) as Count,
          color: COLORS[k % COLORS.length]!,
          background: (
            ['forest', 'city', 'moon', 'field', 'sea', 'table', 'desert', 'San Francisco'] as const
          )[k]!,
        },
        rng,
      );
      cells.push(renderScene(scene), renderDegraded(scene, rng));
    }
    columns = 4;
  } else {
    throw new Error(`unknown grid kind "${String(kind)}" (expected ${GRID_KINDS.join(', ')})`);
  }
  return imageGrid(cells, { columns, scale, gap: scale });
}
