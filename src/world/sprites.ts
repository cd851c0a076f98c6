/**
 * The 25 object silhouettes, drawn as small bitmaps (at most 9x9 pixels at the 32x32 base size).
 *
 * `#` marks the silhouette. The renderer paints the silhouette's border pixels (those with a
 * 4-neighbour outside it) in the dark outline color and the rest in the object's color, so thin
 * parts (legs, stems, handles) come out dark and thick parts carry the color. The shapes are
 * chosen to differ at the 2-3 pixel scale that survives a 3x3 blur: each pair of masks differs
 * in at least 9 pixels at every relative offset within +-2 px (test/world/sprites.test.ts).
 */
import type { ObjectName } from './vocab.js';

/** A sprite's silhouette: `mask[y * width + x]` is 1 inside, 2 on the outline, 0 outside. */
export interface Sprite {
  object: ObjectName;
  width: number;
  height: number;
  /** [height * width] 0 = outside, 1 = fill, 2 = outline */
  mask: Uint8Array;
}

const ART: Readonly<Record<ObjectName, string>> = {
  dog: `
##......#
###....##
.#######.
.#######.
.#######.
.#######.
.##...##.
.##...##.`,
  cat: `
#...#....
##.##....
#####....
#####....
.####....
.#######.
.########
.#######.
..##.##..`,
  lion: `
.####....
######...
######...
######..#
.########
..#######
..#######
..##..##.`,
  orange: `
..#....
.#####.
#######
#######
#######
#######
.#####.`,
  vase: `
#######
.#####.
..###..
.#####.
#######
#######
#######
.#####.`,
  cup: `
#####...
########
#####..#
#####..#
########
#####...
.###....`,
  apple: `
....#....
.##.#.##.
#########
#########
#########
#########
.#######.
..##.##..`,
  chair: `
###......
###......
###......
###......
#########
#########
#########
##.....##
##.....##`,
  bird: `
.##......
####.....
..######.
..#######
..######.
...####..
...#..#..`,
  cake: `
..#...#..
..#...#..
.#######.
.#######.
.#######.
#########
#########`,
  bicycle: `
...###...
....#....
.##.#.##.
#########
###.#.###
###...###
.##...##.`,
  tree: `
..#####..
.#######.
#########
#########
#########
.#######.
...###...
...###...
...###...`,
  donut: `
..#####..
.#######.
#########
###...###
###...###
###...###
#########
.#######.
..#####..`,
  box: `
########
########
########
########
########
########
########
########`,
  plate: `
.#######.
#########
.#######.`,
  clock: `
##.....##
##.###.##
.#######.
#########
#########
#########
.#######.
..#####..
.##...##.`,
  backpack: `
..###..
.##.##.
#######
#######
#######
#######
#######
#######
.#####.`,
  car: `
..####...
.######..
#########
#########
#########
.##...##.
.##...##.`,
  airplane: `
....#....
...###...
...###...
#########
#########
...###...
...###...
..#####..`,
  bear: `
##.....##
###...###
.#######.
#########
#########
#########
#########
.#######.`,
  horse: `
.....##
.....###
.....##.
#######.
#######.
#######.
##...##.
##...##.
##...##.`,
  tiger: `
##.......
##......#
#########
#########
#########
.##...##.`,
  rabbit: `
##...##
##...##
##...##
#######
#######
#######
#######
.#####.`,
  rose: `
.#####.
#######
#######
.#####.
...#...
.###...
...###.
...#...
...#...`,
  wolf: `
......##
.....###
....###.
...####.
..#####.
.######.
########
########
##..###.`,
};

function parseArt(object: ObjectName, art: string): Sprite {
  const rows = art.split('\n').filter((r) => r.length > 0);
  const height = rows.length;
  const width = Math.max(...rows.map((r) => r.length));
  if (width > 9 || height > 9) throw new Error(`sprite ${object} is ${width}x${height}, at most 9x9`);
  // the bitmap must be tight: the judge reads a crisp object's bounding box as the sprite's
  if (
    !rows[0]!.includes('#') ||
    !rows[height - 1]!.includes('#') ||
    !rows.some((r) => r[0] === '#') ||
    !rows.some((r) => r[width - 1] === '#')
  ) {
    throw new Error(`sprite ${object}: the bitmap has an empty border row or column`);
  }
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && rows[y]![x] === '#';
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!inside(x, y)) continue;
      const border = !inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1);
      mask[y * width + x] = border ? 2 : 1;
    }
  }
  return { object, width, height, mask };
}

/** Sprite of every object, parsed once. */
export const SPRITES: Readonly<Record<ObjectName, Sprite>> = Object.fromEntries(
  (Object.keys(ART) as ObjectName[]).map((o) => [o, parseArt(o, ART[o])]),
) as Record<ObjectName, Sprite>;
