import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { paletteDistance, sharpSilhouettes } from '../../src/world/judge_tables.js';
import { OUTLINE_RGB, PAINT_RGB, type RGB, SCENERY_PALETTES } from '../../src/world/palette.js';
import { layoutObjects, MIN_GAP, render, renderScene, sceneFromPrompt } from '../../src/world/render.js';
import { Rng } from '../../src/world/rng.js';
import { SPRITES } from '../../src/world/sprites.js';
import { NATURAL_COLORS, OBJECTS, PAINTS, SCENERIES } from '../../src/world/vocab.js';

function pixel(img: { width: number; data: Float32Array }, x: number, y: number): RGB {
  const i = (y * img.width + x) * 3;
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
}

describe('renderer', () => {
  it('is deterministic from the seed', () => {
    const p = { object: 'dog', count: 3, color: 'blue', background: 'forest' } as const;
    assert.deepEqual(render(p, 7).data, render(p, 7).data);
    assert.notDeepEqual(render(p, 7).data, render(p, 8).data);
  });

  it('renders RGB in [0, 1] at any size; other sizes resample the 32x32 base', () => {
    const small = render({ object: 'cat', count: 2, background: 'sea' }, 3);
    assert.equal(small.width, 32);
    assert.equal(small.data.length, 32 * 32 * 3);
    for (const v of small.data) assert.ok(v >= 0 && v <= 1);
    const big = render({ object: 'cat', count: 2, background: 'sea' }, 3, 64);
    assert.equal(big.width, 64);
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) assert.deepEqual(pixel(big, x, y), pixel(small, x >> 1, y >> 1));
    }
  });

  it('realises the prompt: count, named or natural color, background or plain', () => {
    const rng = new Rng(1);
    const s = sceneFromPrompt({ object: 'wolf', count: 5, color: 'pink', background: 'moon' }, rng);
    assert.equal(s.objects.length, 5);
    assert.ok(s.objects.every((o) => o.object === 'wolf' && o.paint === 'pink'));
    assert.equal(s.scenery, 'moon');
    const n = sceneFromPrompt({ object: 'orange' }, rng);
    assert.equal(n.objects.length, 1);
    assert.equal(n.objects[0]!.paint, NATURAL_COLORS.orange);
    assert.equal(n.scenery, 'plain');
  });

  it('places up to 6 of the largest objects without overlap, MIN_GAP apart', () => {
    const rng = new Rng(2);
    for (let i = 0; i < 300; i++) {
      const object = rng.pick(OBJECTS);
      const placed = layoutObjects(
        Array.from({ length: 6 }, () => ({ object, paint: 'red' as const })),
        rng,
      );
      const s = SPRITES[object];
      for (const o of placed) assert.ok(o.x >= 0 && o.y >= 0 && o.x + s.width <= 32 && o.y + s.height <= 32);
      for (let a = 0; a < placed.length; a++) {
        for (let b = a + 1; b < placed.length; b++) {
          const p = placed[a]!;
          const q = placed[b]!;
          const apart =
            p.x + s.width + MIN_GAP <= q.x ||
            q.x + s.width + MIN_GAP <= p.x ||
            p.y + s.height + MIN_GAP <= q.y ||
            q.y + s.height + MIN_GAP <= p.y;
          assert.ok(apart, `${object} ${JSON.stringify(p)} ${JSON.stringify(q)}`);
        }
      }
    }
  });

  it('draws each object with a dark outline and its paint inside', () => {
    for (const object of OBJECTS) {
      const s = SPRITES[object];
      const img = renderScene({
        scenery: 'plain',
        objects: [{ object, paint: 'yellow', x: 5, y: 6 }],
        textureSeed: 0,
      });
      for (let y = 0; y < s.height; y++) {
        for (let x = 0; x < s.width; x++) {
          const m = s.mask[y * s.width + x];
          if (m === 2)
            assert.deepEqual(
              pixel(img, 5 + x, 6 + y),
              OUTLINE_RGB.map((v) => Math.fround(v)),
            );
          if (m === 1)
            assert.deepEqual(
              pixel(img, 5 + x, 6 + y),
              PAINT_RGB.yellow.map((v) => Math.fround(v)),
            );
        }
      }
    }
  });
});

describe('sprites, palettes and backgrounds', () => {
  it('has 25 distinct silhouettes that differ in at least 9 pixels at any offset within +-3 px', () => {
    assert.equal(sharpSilhouettes().size, 25);
    const C = 15;
    const placed = (o: (typeof OBJECTS)[number], dx: number, dy: number) => {
      const s = SPRITES[o];
      const a = new Uint8Array(C * C);
      for (let y = 0; y < s.height; y++)
        for (let x = 0; x < s.width; x++) if (s.mask[y * s.width + x]) a[(y + dy) * C + x + dx] = 1;
      return a;
    };
    for (let i = 0; i < OBJECTS.length; i++) {
      for (let j = i + 1; j < OBJECTS.length; j++) {
        const a = placed(OBJECTS[i]!, 3, 3);
        let best = Infinity;
        for (let dy = 0; dy <= 6; dy++) {
          for (let dx = 0; dx <= 6; dx++) {
            const b = placed(OBJECTS[j]!, dx, dy);
            let h = 0;
            for (let k = 0; k < C * C; k++) h += a[k] !== b[k] ? 1 : 0;
            best = Math.min(best, h);
          }
        }
        assert.ok(best >= 9, `${OBJECTS[i]} vs ${OBJECTS[j]}: ${best}`);
      }
    }
  });

  it('keeps every paint and the outline at least 0.28 from every background palette (and its blends)', () => {
    for (const s of SCENERIES) {
      const palette = Object.values(SCENERY_PALETTES[s]);
      for (const p of PAINTS) assert.ok(paletteDistance(PAINT_RGB[p], palette) >= 0.28, `${p} on ${s}`);
      assert.ok(paletteDistance(OUTLINE_RGB, palette) >= 0.28, `outline on ${s}`);
      // low-contrast textures: every color of a palette within 0.3 of the others
      for (const a of palette)
        for (const b of palette) assert.ok(Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]) <= 0.3, s);
    }
  });

  it('draws backgrounds that differ from each other and from plain', () => {
    const mean = (s: (typeof SCENERIES)[number]) => {
      const img = renderScene({ scenery: s, objects: [], textureSeed: 3 });
      const m = [0, 0, 0];
      for (let i = 0; i < img.data.length; i++) m[i % 3]! += img.data[i]! / (32 * 32);
      return m;
    };
    const means = SCENERIES.map(mean);
    for (let i = 0; i < means.length; i++) {
      for (let j = i + 1; j < means.length; j++) {
        const d = Math.hypot(
          means[i]![0]! - means[j]![0]!,
          means[i]![1]! - means[j]![1]!,
          means[i]![2]! - means[j]![2]!,
        );
        assert.ok(d > 0.08, `${SCENERIES[i]} vs ${SCENERIES[j]}: mean colors ${d.toFixed(3)} apart`);
      }
    }
    const plain = renderScene({ scenery: 'plain', objects: [], textureSeed: 3 });
    assert.ok(
      plain.data.every((v, i) => v === plain.data[i % 3]),
      'plain is flat',
    );
    for (const s of SCENERIES.filter((x) => x !== 'plain')) {
      const img = renderScene({ scenery: s, objects: [], textureSeed: 3 });
      assert.ok(new Set(img.data).size > 3, `${s} is textured`);
    }
  });
});
