import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createImage } from '../../src/world/image.js';
import { judgeImage } from '../../src/world/judge.js';
import { measureJudge } from '../../src/world/judge_eval.js';
import { FIT_ROW, shapeTemplates } from '../../src/world/judge_tables.js';
import { parsePrompt } from '../../src/world/prompt.js';
import { render, renderScene, sceneFromPrompt } from '../../src/world/render.js';
import { Rng } from '../../src/world/rng.js';
import { isWellFormed, verdict, wellFormedness } from '../../src/world/verdict.js';

describe('judge accuracy on fresh random scenes', () => {
  it('clean renders: >= 99% per attribute and >= 98% exact verdicts on 2,000 scenes', () => {
    const a = measureJudge({ cases: 2000, seed: 2024, degraded: false });
    for (const k of ['background', 'count', 'object', 'color'] as const) {
      assert.ok(a[k] >= 0.99, `${k}: ${a[k]}`);
    }
    assert.ok(a.exactVerdict >= 0.98, `exact verdicts: ${a.exactVerdict}`);
  });

  it('degraded renders (noise 0.05, 3x3 blur, +-1 px and +-0.08 color jitter): >= 95% exact verdicts on 2,000 scenes', () => {
    const a = measureJudge({ cases: 2000, seed: 2025, degraded: true });
    assert.ok(a.exactVerdict >= 0.95, `exact verdicts: ${JSON.stringify(a)}`);
  });
});

describe('judge and verdict', () => {
  it('reads background, objects, classes and colors from pixels', () => {
    const img = render(parsePrompt('Three pink rabbits on the moon.'), 4);
    const j = judgeImage(img);
    assert.equal(j.background, 'moon');
    assert.equal(j.count, 3);
    for (const o of j.objects) {
      assert.equal(o.object, 'rabbit');
      assert.equal(o.paint, 'pink');
      assert.ok(o.classConfidence > 0 && o.colorConfidence > 0 && o.fit > 0.9);
    }
    assert.ok(j.backgroundConfidence > 0.5);
  });

  it('judges any size (resampled to 32x32) and an empty image', () => {
    const p = parsePrompt('Two green cars in the city.');
    const big = verdict(p, render(p, 9, 64));
    assert.equal(big.label, 'good');
    const blank = judgeImage(renderScene({ scenery: 'desert', objects: [], textureSeed: 1 }));
    assert.equal(blank.background, 'desert');
    assert.equal(blank.count, 0);
  });

  it('names the failed attribute', () => {
    const img = render(parsePrompt('Two blue dogs in the forest.'), 7);
    assert.deepEqual(verdict(parsePrompt('Two blue dogs in the forest.'), img).label, 'good');
    assert.deepEqual(verdict(parsePrompt('Two dogs.'), img).label, 'good');
    assert.deepEqual(verdict(parsePrompt('Three blue dogs in the forest.'), img).failed, ['count']);
    assert.deepEqual(verdict(parsePrompt('Two red dogs in the forest.'), img).failed, ['color']);
    assert.deepEqual(verdict(parsePrompt('Two blue dogs on the moon.'), img).failed, ['background']);
    assert.deepEqual(verdict(parsePrompt('Two blue cats in the forest.'), img).failed, ['object']);
    assert.deepEqual(verdict(parsePrompt('Four white cats on the table.'), img).failed, [
      'object',
      'count',
      'color',
      'background',
    ]);
  });

  it('tells well-formed images (fidelity proxy) from noise', () => {
    const img = render(parsePrompt('Four yellow clocks in the sea.'), 2);
    assert.ok(isWellFormed(img));
    assert.equal(wellFormedness(img), 1);
    const rng = new Rng(3);
    const noise = createImage(32, 32);
    for (let i = 0; i < noise.data.length; i++) noise.data[i] = rng.float();
    assert.ok(!isWellFormed(noise));
    assert.ok(wellFormedness(noise) < 0.5);
    // a smear: the object's pixels averaged over large blocks
    const smeared = renderScene(sceneFromPrompt(parsePrompt('Two red dogs.'), new Rng(5)));
    for (let by = 0; by < 32; by += 8) {
      for (let bx = 0; bx < 32; bx += 8) {
        for (let c = 0; c < 3; c++) {
          let m = 0;
          for (let y = by; y < by + 8; y++)
            for (let x = bx; x < bx + 8; x++) m += smeared.data[(y * 32 + x) * 3 + c]! / 64;
          for (let y = by; y < by + 8; y++)
            for (let x = bx; x < bx + 8; x++) smeared.data[(y * 32 + x) * 3 + c] = m;
        }
      }
    }
    assert.ok(!isWellFormed(smeared));
  });
});

describe('judge templates', () => {
  it("split each silhouette, for the model fit's fast path, into sprite pixels and background terms that reproduce it", () => {
    const near = (a: number, b: number, what: string) =>
      assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} vs ${b}`);
    for (const t of shapeTemplates()) {
      const name = `${t.object}${t.blurred ? ' (blurred)' : ''}`;
      const { width: w, height: h } = t;
      const mask = (offsets: Int32Array) => {
        const m = new Float64Array(w * h);
        for (const o of offsets) m[Math.floor(o / FIT_ROW) * w + (o % FIT_ROW)] = 1;
        return m;
      };
      // the sharp sprite's pixels, box-blurred for a blurred template, are the silhouette's fractions
      const box = (m: Float64Array) => {
        if (!t.blurred) return m;
        const out = new Float64Array(w * h);
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            for (let dy = -1; dy <= 1; dy++) {
              for (let dx = -1; dx <= 1; dx++) {
                if (y + dy >= 0 && y + dy < h && x + dx >= 0 && x + dx < w)
                  out[y * w + x]! += m[(y + dy) * w + x + dx]! / 9;
              }
            }
          }
        }
        return out;
      };
      const fill = box(mask(t.fast.fillAt));
      const outline = box(mask(t.fast.outlineAt));
      for (let i = 0; i < w * h; i++) {
        near(fill[i]!, t.fill[i]!, `${name} fill at ${i}`);
        near(outline[i]!, t.outline[i]!, `${name} outline at ${i}`);
      }
      // background terms over the blurred support, none for a sharp template (its maps hold them)
      const { blendAt, blendCoef, constants } = t.fast;
      assert.equal(blendAt.length, t.blurred ? t.support.x.length : 0, name);
      blendAt.forEach((o, k) => {
        const x = o % FIT_ROW;
        const y = Math.floor(o / FIT_ROW);
        assert.deepEqual([x, y], [t.support.x[k], t.support.y[k]], name);
        const f = t.fill[y * w + x]!;
        const a = f + t.outline[y * w + x]!;
        near(blendCoef[k * 3]!, f * a, name);
        near(blendCoef[k * 3 + 1]!, a * a, name);
        near(blendCoef[k * 3 + 2]!, -2 * (a - f) * a, name);
      });
      // the integral images of the image-independent terms add up to their sums over the support
      const total = ((h + 1) * (w + 1) - 1) * 3;
      near(constants[total]!, t.support.fillSq, `${name} f^2`);
      near(constants[total + 1]!, t.support.fillOutline, `${name} f o`);
      near(constants[total + 2]!, t.support.outlineSq, `${name} o^2 |k|^2`);
    }
  });
});
