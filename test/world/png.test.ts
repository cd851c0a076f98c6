import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { imageGrid } from '../../src/world/grid.js';
import { createImage } from '../../src/world/image.js';
import { decodePng, encodePng, readPng, writePng } from '../../src/world/png.js';
import { render } from '../../src/world/render.js';

describe('PNG and grids', () => {
  it('round-trips an image through PNG within 8-bit quantisation', () => {
    const img = render({ object: 'tree', count: 3, color: 'purple', background: 'desert' }, 11);
    const back = decodePng(encodePng(img));
    assert.equal(back.width, 32);
    assert.equal(back.height, 32);
    for (let i = 0; i < img.data.length; i++)
      assert.ok(Math.abs(back.data[i]! - img.data[i]!) <= 0.5 / 255 + 1e-6);
  });

  it('reads and writes files, failing in words on missing and non-PNG files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'world-png-'));
    try {
      const img = render({ object: 'cup' }, 1);
      writePng(join(dir, 'a.png'), img);
      assert.equal(readPng(join(dir, 'a.png')).width, 32);
      assert.throws(() => readPng(join(dir, 'missing.png')), /no such file/);
      writeFileSync(join(dir, 'b.png'), 'not an image');
      assert.throws(() => readPng(join(dir, 'b.png')), /not a PNG/);
      writeFileSync(join(dir, 'c.png'), Buffer.concat([encodePng(img).subarray(0, 40)]));
      assert.throws(() => readPng(join(dir, 'c.png')), /not a readable PNG/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tiles images into a grid with gutters and scaling', () => {
    const a = createImage(32, 32, [1, 0, 0]);
    const b = createImage(32, 32, [0, 0, 1]);
    const g = imageGrid([a, b, a], { columns: 2, scale: 2, gap: 3 });
    assert.equal(g.width, 2 * (64 + 3) + 3);
    assert.equal(g.height, 2 * (64 + 3) + 3);
    const at = (x: number, y: number) =>
      Array.from(g.data.subarray((y * g.width + x) * 3, (y * g.width + x) * 3 + 3));
    assert.deepEqual(at(3, 3), [1, 0, 0]);
    assert.deepEqual(at(3 + 67, 3), [0, 0, 1]);
    assert.deepEqual(at(0, 0), [1, 1, 1]);
    assert.throws(() => imageGrid([a, createImage(16, 16)], { columns: 2 }), /expected 32x32/);
  });
});
