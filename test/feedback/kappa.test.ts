import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agreement, cohenKappa, fleissKappa } from '../../src/feedback/kappa.js';

describe('kappa', () => {
  it("Cohen's kappa matches the textbook example (Wikipedia: 50 proposals, kappa = 0.4)", () => {
    // A yes/B yes 20, A yes/B no 5, A no/B yes 10, both no 15: p_o = 0.7, p_e = 0.5.
    const pairs: Array<[string, string]> = [
      ...Array.from({ length: 20 }, () => ['yes', 'yes'] as [string, string]),
      ...Array.from({ length: 5 }, () => ['yes', 'no'] as [string, string]),
      ...Array.from({ length: 10 }, () => ['no', 'yes'] as [string, string]),
      ...Array.from({ length: 15 }, () => ['no', 'no'] as [string, string]),
    ];
    assert.ok(Math.abs(cohenKappa(pairs)! - 0.4) < 1e-12);
  });

  it("Fleiss' kappa matches the textbook example (Wikipedia: 10 items, 14 raters, kappa = 0.210)", () => {
    const counts = [
      [0, 0, 0, 0, 14],
      [0, 2, 6, 4, 2],
      [0, 0, 3, 5, 6],
      [0, 3, 9, 2, 0],
      [2, 2, 8, 1, 1],
      [7, 7, 0, 0, 0],
      [3, 2, 6, 3, 0],
      [2, 5, 3, 2, 2],
      [6, 5, 2, 1, 0],
      [0, 2, 2, 3, 7],
    ];
    // P-bar = 0.378, P_e = 0.2128 -> kappa = 0.2099
    assert.ok(Math.abs(fleissKappa(counts)! - 0.20993) < 1e-4);
  });

  it('perfect agreement is 1, undefined cases are null, ragged input is refused', () => {
    assert.equal(
      cohenKappa([
        ['good', 'good'],
        ['bad', 'bad'],
      ]),
      1,
    );
    assert.equal(cohenKappa([]), null);
    assert.equal(
      cohenKappa([
        ['good', 'good'],
        ['good', 'good'],
      ]),
      null,
    ); // chance agreement is 1
    assert.equal(
      fleissKappa([
        [2, 0],
        [0, 2],
      ]),
      1,
    );
    assert.throws(
      () =>
        fleissKappa([
          [2, 0],
          [1, 2],
        ]),
      /expected 2/,
    );
    assert.throws(() => fleissKappa([[1, 0]]), /at least 2/);
  });

  it("agreement() uses Cohen's for two raters and Fleiss' for more, per group and per pair", () => {
    const two = [
      {
        itemId: 1,
        group: 'count',
        ratings: [
          { raterId: 1, value: 'good' },
          { raterId: 2, value: 'good' },
        ],
      },
      {
        itemId: 2,
        group: 'count',
        ratings: [
          { raterId: 1, value: 'bad' },
          { raterId: 2, value: 'bad' },
        ],
      },
      {
        itemId: 3,
        group: 'color',
        ratings: [
          { raterId: 1, value: 'good' },
          { raterId: 2, value: 'bad' },
        ],
      },
      {
        itemId: 4,
        group: 'color',
        ratings: [
          { raterId: 1, value: 'bad' },
          { raterId: 2, value: 'bad' },
        ],
      },
    ];
    const r = agreement(two, ['good', 'bad', 'skip'], 2);
    assert.equal(r.method, 'cohen');
    // p_o = 3/4; rater 1: good 2, bad 2; rater 2: good 1, bad 3 -> p_e = (2*1 + 2*3)/16 = 0.5 -> 0.5
    assert.ok(Math.abs(r.kappa! - 0.5) < 1e-12);
    assert.equal(r.items, 4);
    assert.equal(r.byGroup['count']!.kappa, 1);
    assert.deepEqual(
      r.pairwise.map((p) => [p.raterA, p.raterB, p.items]),
      [[1, 2, 4]],
    );

    const three = [
      ...two,
      {
        itemId: 5,
        group: 'count',
        ratings: [
          { raterId: 3, value: 'good' },
          { raterId: 1, value: 'good' },
        ],
      },
    ];
    const f = agreement(three, ['good', 'bad', 'skip'], 2);
    assert.equal(f.method, 'fleiss');
    const expected = fleissKappa([
      [2, 0, 0],
      [0, 2, 0],
      [1, 1, 0],
      [0, 2, 0],
      [2, 0, 0],
    ]);
    assert.ok(Math.abs(f.kappa! - expected!) < 1e-12);
    assert.equal(f.raters, 3);
    assert.equal(f.pairwise.length, 2);
  });
});
