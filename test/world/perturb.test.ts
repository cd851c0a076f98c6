import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { perturbPrompts } from '../../src/world/perturb.js';
import { formatPrompt, type Prompt, parsePrompt } from '../../src/world/prompt.js';
import { Rng } from '../../src/world/rng.js';
import { BACKGROUNDS, COLORS, COUNTS, OBJECTS, SEEN_OBJECTS, UNSEEN_OBJECTS } from '../../src/world/vocab.js';

function randomPrompt(rng: Rng): Prompt {
  const p: Prompt = { object: rng.pick(SEEN_OBJECTS) };
  if (rng.bernoulli(0.6)) p.count = rng.pick(COUNTS);
  if (rng.bernoulli(0.5)) p.color = rng.pick(COLORS);
  if (rng.bernoulli(0.5)) p.background = rng.pick(BACKGROUNDS);
  return p;
}

function differences(a: Prompt, b: Prompt): number {
  return (
    +(a.object !== b.object) +
    +(a.count !== b.count) +
    +(a.color !== b.color) +
    +(a.background !== b.background)
  );
}

describe('perturbed prompts (Algorithm 2)', () => {
  it('gives N distinct grammatical prompts, none equal to the original, each one attribute away', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 300; i++) {
      const p = randomPrompt(rng);
      const out = perturbPrompts(p, 8, { seed: i });
      assert.equal(out.length, 8);
      const texts = out.map(formatPrompt);
      assert.equal(new Set(texts).size, 8, 'distinct');
      assert.ok(!texts.includes(formatPrompt(p)), 'never the original');
      for (const q of out) {
        assert.deepEqual(parsePrompt(formatPrompt(q)), q, 'grammatical');
        assert.equal(differences(p, q), 1, `${formatPrompt(p)} -> ${formatPrompt(q)}`);
        assert.ok(!UNSEEN_OBJECTS.includes(q.object), 'no unseen object by default');
        // attributes the prompt leaves open stay open
        if (p.count === undefined) assert.equal(q.count, undefined);
        if (p.color === undefined) assert.equal(q.color, undefined);
        if (p.background === undefined) assert.equal(q.background, undefined);
      }
    }
  });

  it('changes counts, colors and backgrounds, not only objects', () => {
    const p = parsePrompt('Two blue dogs in the forest.');
    const changed = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      for (const q of perturbPrompts(p, 4, { seed })) {
        if (q.count !== p.count) changed.add('count');
        if (q.color !== p.color) changed.add('color');
        if (q.background !== p.background) changed.add('background');
        if (q.object !== p.object) changed.add('object');
      }
    }
    assert.deepEqual([...changed].sort(), ['background', 'color', 'count', 'object']);
  });

  it('is seeded: same seed same prompts, other seed other prompts', () => {
    const p = parsePrompt('Three red apples on the table.');
    assert.deepEqual(perturbPrompts(p, 6, { seed: 1 }), perturbPrompts(p, 6, { seed: 1 }));
    assert.notDeepEqual(perturbPrompts(p, 6, { seed: 1 }), perturbPrompts(p, 6, { seed: 2 }));
  });

  it('goes to two-attribute changes when more are asked than single changes exist, and fails when impossible', () => {
    const p = parsePrompt('Two dogs.');
    // single changes: 5 counts + 19 seen objects = 24
    const out = perturbPrompts(p, 40, { seed: 3 });
    assert.equal(new Set(out.map(formatPrompt)).size, 40);
    assert.ok(!out.map(formatPrompt).includes('Two dogs.'));
    assert.ok(out.some((q) => differences(p, q) === 2));
    assert.throws(
      () => perturbPrompts(parsePrompt('A dog.'), 30, { seed: 0, objects: OBJECTS }),
      /cannot make 30/,
    );
    assert.equal(perturbPrompts(parsePrompt('A dog.'), 24, { seed: 0, objects: OBJECTS }).length, 24);
  });

  it('never returns an excluded prompt, even when most near misses are excluded', () => {
    const p = parsePrompt('One dog.');
    const singles = perturbPrompts(p, 24, { seed: 0 }).map(formatPrompt);
    const exclude = new Set([...singles.slice(0, 20), 'Three blue cats on the beach.']);
    for (const seed of [0, 1, 2]) {
      const out = perturbPrompts(p, 8, { seed, exclude }).map(formatPrompt);
      assert.equal(new Set(out).size, 8);
      for (const t of out) assert.ok(!exclude.has(t) && t !== 'One dog.', t);
    }
    // without exclusions the draw is unchanged
    assert.deepEqual(
      perturbPrompts(p, 8, { seed: 4, exclude: new Set() }).map(formatPrompt),
      perturbPrompts(p, 8, { seed: 4 }).map(formatPrompt),
    );
  });
});
