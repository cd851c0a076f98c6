import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RGBImage } from '../../src/world/image.js';
import { type Judgement, judgeImage } from '../../src/world/judge.js';
import { randomCase } from '../../src/world/judge_eval.js';
import { type Prompt, parsePrompt } from '../../src/world/prompt.js';
import { BinaryLabeler, panelCompare, voteHistogram } from '../../src/world/raters.js';
import { render, renderScene } from '../../src/world/render.js';
import { Rng } from '../../src/world/rng.js';
import { verdict } from '../../src/world/verdict.js';

/** 1,500 judged random cases (clean renders, half of them misaligned). */
function cases(): Array<{ prompt: Prompt; j: Judgement }> {
  const rng = new Rng(77);
  return Array.from({ length: 1500 }, () => {
    const c = randomCase(rng);
    return { prompt: c.prompt, j: judgeImage(renderScene(c.scene)) };
  });
}

describe('simulated labelers', () => {
  const data = cases();

  it('disagree with the verdict at the configured error rate, and with each other at 2e(1-e)', () => {
    const e = 0.1;
    const a = new BinaryLabeler({ errorRate: e, skipRate: 0, seed: 1 });
    const b = new BinaryLabeler({ errorRate: e, skipRate: 0, seed: 2 });
    let wrong = 0;
    let apart = 0;
    let n = 0;
    data.forEach(({ prompt, j }, i) => {
      const v = verdict(prompt, j).label;
      const la = a.label(prompt, j, i);
      const lb = b.label(prompt, j, i);
      if (v === 'unsure' || la === 'skip' || lb === 'skip') return;
      n++;
      wrong += +(la !== v);
      apart += +(la !== lb);
    });
    assert.ok(n > 1400);
    assert.ok(Math.abs(wrong / n - e) < 0.025, `error rate ${wrong / n}`);
    assert.ok(Math.abs(apart / n - 2 * e * (1 - e)) < 0.035, `disagreement ${apart / n}`);
  });

  it('skip at the configured rate and answer the same image the same way', () => {
    const l = new BinaryLabeler({ errorRate: 0.05, skipRate: 0.2, seed: 9 });
    const skips = data.filter(({ prompt, j }, i) => l.label(prompt, j, i) === 'skip').length / data.length;
    assert.ok(Math.abs(skips - 0.2) < 0.035, `skip rate ${skips}`);
    for (let i = 0; i < 50; i++)
      assert.equal(l.label(data[i]!.prompt, data[i]!.j, i), l.label(data[i]!.prompt, data[i]!.j, i));
    assert.throws(() => new BinaryLabeler({ errorRate: 1.5, skipRate: 0, seed: 0 }), /errorRate/);
  });
});

describe('rater panel', () => {
  const prompt = parsePrompt('Three red apples on the table.');
  const aligned: RGBImage[] = [1, 2, 3, 4].map((s) => render(prompt, s));
  const misaligned: RGBImage[] = [1, 2, 3, 4].map((s) =>
    render(parsePrompt('Five blue apples in the sea.'), s),
  );

  it('prefers the aligned set for alignment; votes add up to the panel size', () => {
    const hist: number[] = [];
    for (let q = 0; q < 40; q++) {
      const v = panelCompare(prompt, aligned, misaligned, { seed: 3 }, q);
      assert.equal(v.alignment.a + v.alignment.b + v.alignment.tie, 9);
      assert.equal(v.fidelity.a + v.fidelity.b + v.fidelity.tie, 9);
      hist.push(v.alignment.a);
    }
    const { votesHist, win7plus } = voteHistogram(hist);
    assert.ok(win7plus > 0.9, `win7plus ${win7plus}`);
    assert.ok(Math.abs(votesHist.reduce((s, x) => s + x, 0) - 1) < 1e-9);
  });

  it('splits or ties on equal sets, and is seeded', () => {
    let a = 0;
    let b = 0;
    for (let q = 0; q < 40; q++) {
      const v = panelCompare(prompt, aligned, aligned, { seed: 4 }, q);
      a += v.alignment.a;
      b += v.alignment.b;
    }
    assert.ok(Math.abs(a - b) < 0.25 * (a + b + 1), `a=${a} b=${b}`);
    assert.deepEqual(
      panelCompare(prompt, aligned, misaligned, { seed: 5 }, 'q'),
      panelCompare(prompt, aligned, misaligned, { seed: 5 }, 'q'),
    );
    assert.throws(() => voteHistogram([10], 9), /10 votes/);
  });
});
