/**
 * The rater panel's maths (src/eval/panel.ts) and the alignment shares (src/eval/evaluate.ts):
 * per-rater choices that add up to world/raters.ts' tallies, vote histograms and 7+ wins counted by
 * hand, the panel stored in a feedback database and read back by its panelResults, and alignment
 * per split and category with null for empty categories.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { evalItems } from '../../src/eval/eval_set.js';
import { alignmentBySplit } from '../../src/eval/evaluate.js';
import {
  type PanelQuery,
  panelSummary,
  parsePanelName,
  raterChoices,
  runPanel,
  storePanel,
} from '../../src/eval/panel.js';
import { openFeedbackDb } from '../../src/feedback/db.js';
import type { Choice } from '../../src/feedback/types.js';
import { judgeImage } from '../../src/world/judge.js';
import { parsePrompt } from '../../src/world/prompt.js';
import { DEFAULT_PANEL, panelVotes } from '../../src/world/raters.js';
import { render } from '../../src/world/render.js';
import { Rng } from '../../src/world/rng.js';

test('each rater casts one vote per question, and the votes add up to the panel tallies', () => {
  const rng = new Rng(3);
  for (let q = 0; q < 200; q++) {
    const a = { alignment: rng.float(), fidelity: rng.float() };
    const b = { alignment: rng.float(), fidelity: rng.float() };
    const options = { ...DEFAULT_PANEL, seed: 11 };
    const key = `query-${q}`;
    const choices = raterChoices(a, b, options, key);
    const tally = panelVotes(a, b, options, key);
    for (const question of ['alignment', 'fidelity'] as const) {
      assert.equal(choices[question].length, 9);
      const count = (c: Choice) => choices[question].filter((x) => x === c).length;
      assert.deepEqual({ a: count('a'), b: count('b'), tie: count('tie') }, tally[question]);
    }
    // rater r votes the same in a smaller panel: choices do not depend on the panel size
    const five = raterChoices(a, b, { ...options, raters: 5 }, key);
    assert.deepEqual(five.alignment, choices.alignment.slice(0, 5));
  }
});

/** A query whose first `aVotes` raters vote A and the rest B (alignment), ties on fidelity. */
function query(text: string, aVotes: number, fidelityA = 0): PanelQuery {
  const [item] = evalItems([text]);
  return {
    item: item!,
    alignment: Array.from({ length: 9 }, (_, r): Choice => (r < aVotes ? 'a' : 'b')),
    fidelity: Array.from({ length: 9 }, (_, r): Choice => (r < fidelityA ? 'a' : 'tie')),
  };
}

test('votes_hist and win_7plus are the shares of queries by votes for A, counted by hand', () => {
  const qs = [
    query('Two dogs.', 9, 1),
    query('Three dogs.', 7, 1),
    query('A dog on the moon.', 3, 8),
    query('Two wolves.', 7, 2),
  ];
  const s = panelSummary(qs);
  // alignment: votes 9, 7, 3, 7 -> hist[3] = 1/4, hist[7] = 2/4, hist[9] = 1/4; 7+ = 3/4
  const expected = new Array<number>(10).fill(0);
  expected[3] = 0.25;
  expected[7] = 0.5;
  expected[9] = 0.25;
  assert.deepEqual(s.alignment.votes_hist, expected);
  assert.equal(s.alignment.win_7plus, 0.75);
  // fidelity: votes 1, 1, 8, 2 -> 7+ = 1/4
  assert.equal(s.fidelity.votes_hist[1], 0.5);
  assert.equal(s.fidelity.votes_hist[8], 0.25);
  assert.equal(s.fidelity.win_7plus, 0.25);
  assert.deepEqual(parsePanelName('finetuned_vs_rejection16to4'), {
    name: 'finetuned_vs_rejection16to4',
    a: 'finetuned',
    b: 'rejection16to4',
  });
  assert.throws(() => parsePanelName('finetuned-original'), /<a>_vs_<b>/);
});

test('a panel of aligned renders against misaligned ones, stored in the database and read back', async () => {
  const items = evalItems(['Two dogs.', 'A red colored dog.', 'A wolf in the forest.']);
  // set A: renders of the prompt itself; set B: renders of the same prompt with another count/color/place
  const wrong = ['Four dogs.', 'A blue colored dog.', 'A wolf on the moon.'];
  const judge = (text: string, seed: number) =>
    Array.from({ length: 4 }, (_, k) => judgeImage(render(parsePrompt(text), seed + k)));
  const setsA = items.map((it, i) => judge(it.text, 100 * i));
  const setsB = wrong.map((t, i) => judge(t, 100 * i + 50));
  const spec = parsePanelName('good_vs_bad');
  const queries = runPanel({ spec, items, setsA, setsB, options: { seed: 5 } });
  const summary = panelSummary(queries);
  // clean renders are judged exactly: the good sets win alignment by 1.0, far beyond the raters' noise
  assert.equal(summary.alignment.win_7plus, 1);
  assert.equal(summary.alignment.votes_hist[9], 1);

  const dir = mkdtempSync(join(tmpdir(), 't2i-eval-panel-'));
  const db = await openFeedbackDb(`sqlite:${join(dir, 'feedback.db')}`);
  try {
    const promptIds = await db.insertPrompts(
      items.map((it) => ({
        text: it.text,
        category: it.category,
        split: it.split === 'seen' ? 'eval_seen' : 'eval_unseen',
      })),
    );
    const ids = async (model: string) => {
      const flat = await db.insertImages(
        items.flatMap((it, i) =>
          [0, 1, 2, 3].map((k) => ({
            promptId: promptIds[i]!,
            path: `images/eval/${model}/${it.index}-${k}.png`,
            model,
            purpose: 'eval',
          })),
        ),
      );
      return items.map((_, i) => flat.slice(4 * i, 4 * i + 4));
    };
    const idsA = await ids('good');
    const idsB = await ids('bad');
    const first = await storePanel(db, { spec, queries, promptIds, idsA, idsB, seed: 5 });
    assert.deepEqual(first, { comparisons: 3, votes: 27 });
    const again = await storePanel(db, { spec, queries, promptIds, idsA, idsB, seed: 5 });
    assert.deepEqual(again, { comparisons: 0, votes: 0 });
    const stored = (await db.panelResults())['good_vs_bad']!;
    assert.equal(stored.complete, 3);
    assert.deepEqual(stored.alignment.votes_hist, summary.alignment.votes_hist);
    assert.deepEqual(stored.fidelity.votes_hist, summary.fidelity.votes_hist);
    assert.equal(stored.fidelity.win_7plus, summary.fidelity.win_7plus);
    assert.deepEqual(
      (await db.listLabelers()).map((l) => l.name),
      Array.from({ length: 9 }, (_, r) => `panel-${r + 1}`),
    );
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('alignment shares per split and category; a category without prompts is null', () => {
  const items = evalItems([
    'Two dogs.',
    'Three dogs.',
    'A red colored dog.',
    'Two brown bears.',
    'A wolf in the sea.',
  ]);
  assert.deepEqual(
    items.map((it) => [it.split, it.category]),
    [
      ['seen', 'count'],
      ['seen', 'count'],
      ['seen', 'color'],
      ['unseen', 'combination'],
      ['unseen', 'background'],
    ],
  );
  const good = [
    [true, true, false, false],
    [true, false, false, false],
    [true, true, true, true],
    [false, false, false, false],
    [true, false, true, false],
  ];
  const a = alignmentBySplit(items, good);
  assert.deepEqual(a.seen, { count: 3 / 8, color: 1, background: null, combination: null, all: 7 / 12 });
  assert.deepEqual(a.unseen, { count: null, color: null, background: 0.5, combination: 0, all: 0.25 });
  assert.throws(() => evalItems(['A dog.']), /no category/);
  assert.throws(() => evalItems(['Two unicorns.']), /unicorns/);
});
