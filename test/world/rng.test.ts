import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashSeed, Rng } from '../../src/world/rng.js';

describe('seeded PRNG', () => {
  it('repeats a stream from its seed and resumes from its state', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 100 }, () => a.nextUint32());
    assert.deepEqual(
      Array.from({ length: 100 }, () => b.nextUint32()),
      xs,
    );
    const c = new Rng(42);
    for (let i = 0; i < 50; i++) c.nextUint32();
    const d = new Rng(0);
    d.setState(c.getState());
    assert.deepEqual(
      Array.from({ length: 50 }, () => d.nextUint32()),
      xs.slice(50),
    );
    assert.notDeepEqual(new Rng(43).nextUint32(), new Rng(42).nextUint32());
  });

  it('forks independent streams without advancing the parent', () => {
    const r = new Rng(1);
    const before = r.getState();
    const f1 = r.fork('a', 1);
    const f2 = r.fork('a', 2);
    assert.equal(r.getState(), before);
    assert.notEqual(f1.nextUint32(), f2.nextUint32());
    assert.equal(r.fork('a', 1).nextUint32(), new Rng(1).fork('a', 1).nextUint32());
    assert.notEqual(hashSeed(1, 'x'), hashSeed(1, 'y'));
    assert.throws(() => hashSeed(0.5), /integers/);
  });

  it('draws from the right distributions', () => {
    const r = new Rng(7);
    const n = 50_000;
    let sum = 0;
    let sq = 0;
    const counts = new Array(6).fill(0);
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      sum += z;
      sq += z * z;
      counts[r.int(6)]++;
      const u = r.float();
      assert.ok(u >= 0 && u < 1);
    }
    assert.ok(Math.abs(sum / n) < 0.02, 'normal mean ~ 0');
    assert.ok(Math.abs(sq / n - 1) < 0.03, 'normal variance ~ 1');
    for (const c of counts) assert.ok(Math.abs(c / n - 1 / 6) < 0.01);
    const w = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) w[r.weighted([1, 0, 3])]++;
    assert.equal(w[1], 0);
    assert.ok(Math.abs(w[2]! / 30_000 - 0.75) < 0.02);
    const perm = r.shuffle([0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual([...perm].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.throws(() => r.int(0), /positive integer/);
  });
});
