import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evalPrompts } from '../../src/world/eval_prompts.js';
import { FEEDBACK_SIZES, feedbackPrompts, totalImages } from '../../src/world/feedback_prompts.js';
import { formatPrompt, parsePrompt, promptCategory } from '../../src/world/prompt.js';
import { UNSEEN_OBJECTS } from '../../src/world/vocab.js';

const CATEGORIES = ['count', 'color', 'background', 'combination'] as const;

describe('feedback prompt set', () => {
  it('reproduces Table 2 exactly at the paper preset', () => {
    const prompts = feedbackPrompts('paper');
    const table2 = {
      count: [108, 6480],
      color: [58, 3480],
      background: [40, 2400],
      combination: [2528, 15168],
    };
    for (const c of CATEGORIES) {
      const mine = prompts.filter((p) => p.category === c);
      assert.equal(mine.length, table2[c][0], `${c} prompts`);
      assert.equal(totalImages(mine), table2[c][1], `${c} images`);
    }
    assert.equal(totalImages(prompts), 27528);
    assert.equal(new Set(prompts.map((p) => p.text)).size, prompts.length, 'prompts are distinct');
    for (const p of prompts) {
      assert.equal(promptCategory(p.prompt), p.category, p.text);
      assert.equal(formatPrompt(parsePrompt(p.text)), p.text);
    }
  });

  it('scales the category mix down proportionally in quick and smoke', () => {
    const paper = totalImages(feedbackPrompts('paper'));
    for (const preset of ['quick', 'smoke'] as const) {
      const prompts = feedbackPrompts(preset);
      const total = totalImages(prompts);
      for (const c of CATEGORIES) {
        const share = totalImages(prompts.filter((p) => p.category === c)) / total;
        const paperShare =
          (FEEDBACK_SIZES.paper[c].prompts * FEEDBACK_SIZES.paper[c].imagesPerPrompt) / paper;
        assert.ok(
          Math.abs(share - paperShare) < 0.05,
          `${preset} ${c}: share ${share.toFixed(3)} vs paper ${paperShare.toFixed(3)}`,
        );
      }
      if (preset === 'quick') assert.equal(total * 12, paper);
      else assert.ok(total >= 24 && total <= 60, `smoke has a few dozen images, got ${total}`);
    }
  });

  it('holds every one of the 60 seen Table 4 prompts in quick and paper, and none of the unseen ones', () => {
    const evals = evalPrompts();
    const seen = evals.filter((p) => p.split === 'seen').map((p) => p.text);
    const unseen = evals.filter((p) => p.split === 'unseen').map((p) => p.text);
    assert.equal(seen.length, 60);
    for (const preset of ['paper', 'quick'] as const) {
      const texts = new Set(feedbackPrompts(preset).map((p) => p.text));
      const missing = seen.filter((t) => !texts.has(t));
      assert.deepEqual(missing, [], `${preset} lacks seen prompts`);
      for (const t of unseen) assert.ok(!texts.has(t), `${preset}: ${t}`);
    }
    // smoke is too small for them: it keeps its evenly spaced subset (first count prompt "One dog.")
    assert.equal(feedbackPrompts('smoke')[0]!.text, 'One dog.');
  });

  it('never uses an unseen object', () => {
    for (const preset of ['paper', 'quick', 'smoke'] as const) {
      for (const p of feedbackPrompts(preset))
        assert.ok(!UNSEEN_OBJECTS.includes(p.prompt.object), `${preset}: ${p.text}`);
    }
  });

  it('accepts explicit sizes and rejects unknown presets', () => {
    const custom = feedbackPrompts({
      count: { prompts: 2, imagesPerPrompt: 3 },
      color: { prompts: 1, imagesPerPrompt: 1 },
      background: { prompts: 0, imagesPerPrompt: 1 },
      combination: { prompts: 4, imagesPerPrompt: 2 },
    });
    assert.equal(custom.length, 7);
    assert.equal(totalImages(custom), 15);
    assert.throws(() => feedbackPrompts('huge' as 'paper'), /unknown feedback preset "huge"/);
  });
});

describe('evaluation prompts (Table 4)', () => {
  const all = evalPrompts();
  const seen = all.filter((p) => p.split === 'seen').map((p) => p.text);
  const unseen = all.filter((p) => p.split === 'unseen').map((p) => p.text);

  it('has 60 seen and 60 unseen distinct prompts', () => {
    assert.equal(all.length, 120);
    assert.equal(seen.length, 60);
    assert.equal(unseen.length, 60);
    assert.equal(new Set(all.map((p) => p.text)).size, 120);
    for (const p of all) assert.equal(formatPrompt(parsePrompt(p.text)), p.text);
  });

  it('completes the table by its own pattern', () => {
    assert.deepEqual(seen.slice(55), [
      'Five dogs.',
      'Five donuts.',
      'Five cakes.',
      'Five vases.',
      'Five apples.',
    ]);
    assert.deepEqual(unseen.slice(53), [
      'Four rabbits.',
      'Four red roses.',
      'Five brown bears.',
      'Five wolves.',
      'Five tigers.',
      'Five rabbits.',
      'Five red roses.',
    ]);
    assert.deepEqual(seen.slice(0, 3), ['A red colored dog.', 'A red colored donut.', 'A red colored cake.']);
    assert.equal(unseen[0], 'A red colored bear.');
  });

  it('keeps unseen objects out of the seen split and in the unseen one', () => {
    for (const p of all) assert.equal(UNSEEN_OBJECTS.includes(p.prompt.object), p.split === 'unseen', p.text);
  });

  it('finds every seen evaluation prompt in the paper feedback set', () => {
    const feedback = new Set(feedbackPrompts('paper').map((p) => p.text));
    for (const text of seen) assert.ok(feedback.has(text), text);
  });
});
