/**
 * Simulated labelers for the feedback set: the world's binary labeler (world/raters.ts: the judge's
 * verdict, `skip` where it is unsure, slips at `errorRate`, extra skips at `skipRate`, drawn from
 * (seed, image key)) behind the SimulatedLabeler interface that `feedback simulate` stores labels
 * from. The paper's protocol: good / bad / skip, two labelers (section B).
 *
 * The labelers of one panel share a judgement cache, so an image is judged once however many
 * labelers label it.
 */
import type { LabelValue } from '../feedback/types.js';
import type { RGBImage } from '../world/image.js';
import { type Judgement, judgeImage } from '../world/judge.js';
import { type Prompt, parsePrompt } from '../world/prompt.js';
import { BinaryLabeler, type LabelerOptions } from '../world/raters.js';
import { hashSeed } from '../world/rng.js';
import type { SimulatedLabeler } from './feedback_set.js';

/**
 * Defaults of `feedback simulate`: 4% slips (two labelers then disagree on about 2 x 0.04 x 0.96 = 7.7%
 * of the images) and 2% extra skips, which with the judge's unsure verdicts lands near the paper's
 * Table 2 skip share (5%).
 */
export const DEFAULT_LABELER: Readonly<Omit<LabelerOptions, 'seed'>> = { errorRate: 0.04, skipRate: 0.02 };

/** The judge's reading of the most recent images, by key. */
export class JudgementCache {
  readonly #entries = new Map<string, Judgement>();
  constructor(readonly capacity = 256) {}
  get(key: string, image: RGBImage): Judgement {
    let j = this.#entries.get(key);
    if (!j) {
      j = judgeImage(image);
      if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(key, j);
    }
    return j;
  }
}

/** The world's BinaryLabeler as a SimulatedLabeler (prompts as text, images keyed by their run path). */
export class WorldLabeler implements SimulatedLabeler {
  readonly #labeler: BinaryLabeler;
  readonly #parsed = new Map<string, Prompt>();
  constructor(
    readonly name: string,
    readonly options: LabelerOptions,
    readonly cache: JudgementCache = new JudgementCache(),
  ) {
    this.#labeler = new BinaryLabeler(options);
  }
  label(image: RGBImage, prompt: string, key: string): LabelValue {
    let p = this.#parsed.get(prompt);
    if (!p) {
      p = parsePrompt(prompt);
      this.#parsed.set(prompt, p);
    }
    return this.#labeler.label(p, this.cache.get(key, image), key);
  }
}

/** `n` labelers "simulated-1".."simulated-n"; labeler i is seeded with hashSeed(seed, 'labeler', i). */
export function simulatedLabelers(n: number, o: Partial<LabelerOptions> = {}): WorldLabeler[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`labelers must be a positive integer, got ${n}`);
  const seed = o.seed ?? 0;
  const cache = new JudgementCache();
  return Array.from(
    { length: n },
    (_, i) =>
      new WorldLabeler(
        `simulated-${i + 1}`,
        {
          errorRate: o.errorRate ?? DEFAULT_LABELER.errorRate,
          skipRate: o.skipRate ?? DEFAULT_LABELER.skipRate,
          seed: hashSeed(seed, 'labeler', i),
        },
        cache,
      ),
  );
}
