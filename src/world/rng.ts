/**
 * Seeded pseudo-random numbers for the whole project.
 *
 * The generator is mulberry32 (a 32-bit state, period 2^32, passes PractRand to 2^32 outputs):
 * small, fast and exactly reproducible across platforms because it only uses 32-bit integer
 * arithmetic (`Math.imul`, shifts). Seeds are first mixed by a splitmix32-style finaliser so that
 * neighbouring seeds (0, 1, 2, ...) give unrelated streams, and `fork(key)` derives an independent
 * child stream from a parent seed and a key without consuming the parent.
 */

/** splitmix32-style avalanche of a 32-bit integer (every input bit flips ~half the output bits). */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * Hashes any list of numbers and strings to a 32-bit seed, e.g. `hashSeed(seed, 'layout', i)`.
 * Numbers must be integers (they are taken modulo 2^32); strings are hashed code unit by code unit.
 */
export function hashSeed(...parts: ReadonlyArray<number | string>): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    if (typeof part === 'number') {
      if (!Number.isInteger(part)) throw new Error(`hashSeed: seed parts must be integers, got ${part}`);
      h = mix32(h ^ (part >>> 0));
      h = mix32(h ^ Math.floor(part / 2 ** 32));
    } else {
      for (let i = 0; i < part.length; i++) h = mix32(h ^ part.charCodeAt(i));
      h = mix32(h ^ 0xff);
    }
  }
  return h >>> 0;
}

/** A seeded stream of random numbers (mulberry32). Not cryptographic. */
export class Rng {
  private s: number;
  /** the seed this stream was created from (after hashing), for forks and logs */
  readonly seed: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`Rng: seed must be an integer, got ${seed}`);
    this.seed = hashSeed(seed);
    this.s = this.seed;
  }

  /** An independent stream derived from this stream's seed and `key`; does not advance this stream. */
  fork(...key: ReadonlyArray<number | string>): Rng {
    return new Rng(hashSeed(this.seed, ...key));
  }

  /** The internal state, to resume a stream exactly (`setState`). */
  getState(): number {
    return this.s;
  }

  setState(state: number): void {
    this.s = state >>> 0;
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  intIn(lo: number, hi: number): number {
    if (hi < lo) throw new Error(`Rng.intIn: empty range [${lo}, ${hi}]`);
    return lo + this.int(hi - lo + 1);
  }

  /** true with probability p. */
  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** Standard normal sample (Box-Muller; one of the pair is discarded to keep the state simple). */
  normal(): number {
    let u = this.float();
    while (u <= 0) u = this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A uniformly chosen element. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[this.int(items.length)]!;
  }

  /** Index drawn with probability proportional to `weights[i]` (non-negative, not all zero). */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) {
      if (!(w >= 0)) throw new Error(`Rng.weighted: weights must be non-negative, got ${w}`);
      total += w;
    }
    if (total <= 0) throw new Error('Rng.weighted: all weights are zero');
    let u = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i]!;
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }
}
