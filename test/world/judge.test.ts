import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createImage } from '../../src/world/image.js';
import { judgeImage } from '../../src/world/judge.js';
import { measureJudge } from '../../src/world/judge_eval.js';
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
