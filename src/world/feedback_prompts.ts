/**
 * The feedback prompt set (paper Table 2, appendix B) and its scaled-down presets.
 *
 * Table 2 fixes the number of images per category; the paper does not list its prompts, so the
 * `paper` preset builds them by the rules below (documented in docs/world.md). Only the 20 seen
 * objects are used; bear, tiger, rabbit, rose and wolf never appear.
 *
 *   category     prompts  images/prompt  images   rule
 *   count          108         60         6,480   18 count objects x counts 1-6 ("Two dogs.")
 *   color           58         60         3,480   5 core objects x 9 colors, then 13 more count
 *                                                  objects with one color each ("A green colored dog.")
 *   background      40         60         2,400   5 core objects x 8 backgrounds ("A dog in the forest.")
 *   combination  2,528          6        15,168   count + color + background on any seen object,
 *                                                  a seeded sample of the 20 x 6 x 9 x 8 = 8,640 triples
 *
 * The 5 core objects are the ones Table 4 evaluates (dog, donut, cake, vase, apple), so every one
 * of the 60 "seen" evaluation prompts is literally in the feedback set. Smaller presets keep
 * fewer images per prompt and the category mix. Where a category has room for all of its seen
 * evaluation prompts (`quick`: 54 count prompts hold the 20 seen ones, 29 color prompts the 20,
 * 20 background prompts exactly the 20), it takes them all, then fills the rest with an evenly
 * spaced subset of the category's other prompts (ordered so that the spacing spreads over counts,
 * colors and objects): in the paper, "seen" means fine-tuned on. A category too small for them
 * (`smoke`) takes an evenly spaced subset of its whole list.
 */
import { evalPrompts } from './eval_prompts.js';
import { formatPrompt, type Prompt, type PromptCategory } from './prompt.js';
import { Rng } from './rng.js';
import { BACKGROUNDS, COLORS, COUNTS, NATURAL_COLORS, type ObjectName, SEEN_OBJECTS } from './vocab.js';

/** The objects Table 4 evaluates on the seen side. */
export const CORE_OBJECTS: readonly ObjectName[] = ['dog', 'donut', 'cake', 'vase', 'apple'];

/**
 * The 18 objects of the count category (and of the color category's tail): the core objects
 * first, then the other seen objects in vocabulary order, leaving out the last two (airplane, horse).
 */
export const COUNT_OBJECTS: readonly ObjectName[] = [
  ...CORE_OBJECTS,
  ...SEEN_OBJECTS.filter((o) => !CORE_OBJECTS.includes(o)),
].slice(0, 18);

/** Seed of the combination sample; changing it changes the `paper` preset. */
export const COMBINATION_SEED = 2023;

export type FeedbackPreset = 'smoke' | 'quick' | 'paper';
export const FEEDBACK_PRESETS: readonly FeedbackPreset[] = ['smoke', 'quick', 'paper'];

/** How many prompts and images per prompt one category contributes. */
export interface CategorySize {
  prompts: number;
  imagesPerPrompt: number;
}

export type FeedbackSizes = Record<PromptCategory, CategorySize>;

/**
 * Preset sizes. `paper` is Table 2 (27,528 images); `quick` is 1/12 of it per category
 * (2,294 images); `smoke` is a 50-image set for end-to-end tests.
 */
export const FEEDBACK_SIZES: Readonly<Record<FeedbackPreset, FeedbackSizes>> = {
  paper: {
    count: { prompts: 108, imagesPerPrompt: 60 },
    color: { prompts: 58, imagesPerPrompt: 60 },
    background: { prompts: 40, imagesPerPrompt: 60 },
    combination: { prompts: 2528, imagesPerPrompt: 6 },
  },
  quick: {
    count: { prompts: 54, imagesPerPrompt: 10 },
    color: { prompts: 29, imagesPerPrompt: 10 },
    background: { prompts: 20, imagesPerPrompt: 10 },
    combination: { prompts: 1264, imagesPerPrompt: 1 },
  },
  smoke: {
    count: { prompts: 6, imagesPerPrompt: 2 },
    color: { prompts: 3, imagesPerPrompt: 2 },
    background: { prompts: 2, imagesPerPrompt: 2 },
    combination: { prompts: 28, imagesPerPrompt: 1 },
  },
};

/** One prompt of the feedback set with the number of images to sample for it. */
export interface FeedbackPrompt {
  text: string;
  prompt: Prompt;
  category: PromptCategory;
  images: number;
}

/** Count category, count-major so that even spacing covers every count: One dog, One donut, ... */
function countPrompts(): Prompt[] {
  const out: Prompt[] = [];
  for (const count of COUNTS) for (const object of COUNT_OBJECTS) out.push({ object, count });
  return out;
}

/** Color category: core x 9 colors (color-major), then one color per remaining count object. */
function colorPrompts(): Prompt[] {
  const out: Prompt[] = [];
  for (const color of COLORS) for (const object of CORE_OBJECTS) out.push({ object, color });
  const tail = COUNT_OBJECTS.filter((o) => !CORE_OBJECTS.includes(o));
  tail.forEach((object, k) => {
    // round-robin over the colors, skipping the object's natural color so each tail prompt is a real test
    let c = k % COLORS.length;
    if (COLORS[c] === NATURAL_COLORS[object]) c = (c + 1) % COLORS.length;
    out.push({ object, color: COLORS[c]! });
  });
  return out;
}

/** Background category: core x 8 backgrounds, background-major. */
function backgroundPrompts(): Prompt[] {
  const out: Prompt[] = [];
  for (const background of BACKGROUNDS) for (const object of CORE_OBJECTS) out.push({ object, background });
  return out;
}

/** Combination category: a seeded sample of all count x color x background x seen-object prompts. */
function combinationPrompts(n: number): Prompt[] {
  const all: Prompt[] = [];
  for (const object of SEEN_OBJECTS)
    for (const count of COUNTS)
      for (const color of COLORS)
        for (const background of BACKGROUNDS) all.push({ object, count, color, background });
  if (n > all.length) throw new Error(`combination: asked for ${n} prompts, only ${all.length} exist`);
  return new Rng(COMBINATION_SEED).shuffle(all).slice(0, n);
}

/** `k` items of `list`, evenly spaced (index floor(i * n / k)), order kept. */
function evenlySpaced<T>(list: readonly T[], k: number): T[] {
  if (k > list.length) throw new Error(`cannot take ${k} prompts from a list of ${list.length}`);
  const out: T[] = [];
  for (let i = 0; i < k; i++) out.push(list[Math.floor((i * list.length) / k)]!);
  return out;
}

/**
 * `k` prompts of a category's `list`: every one of its `seen` texts (in list order) when k has room
 * for them, the rest evenly spaced over the other prompts; otherwise `k` evenly spaced ones.
 */
function seenFirst(list: readonly Prompt[], k: number, seen: ReadonlySet<string>): Prompt[] {
  const mustHave = list.filter((p) => seen.has(formatPrompt(p)));
  if (mustHave.length === 0 || k < mustHave.length) return evenlySpaced(list, k);
  const chosen = new Set([
    ...mustHave,
    ...evenlySpaced(
      list.filter((p) => !mustHave.includes(p)),
      k - mustHave.length,
    ),
  ]);
  return list.filter((p) => chosen.has(p));
}

/** The texts of Table 4's 60 seen evaluation prompts. */
export function seenEvalTexts(): Set<string> {
  return new Set(
    evalPrompts()
      .filter((p) => p.split === 'seen')
      .map((p) => p.text),
  );
}

/**
 * The feedback prompt set of a preset (or of explicit sizes): count, color, background and
 * combination prompts in that order, each with the number of images to sample.
 */
export function feedbackPrompts(preset: FeedbackPreset | FeedbackSizes): FeedbackPrompt[] {
  let sizes: FeedbackSizes;
  if (typeof preset === 'string') {
    const found = FEEDBACK_SIZES[preset];
    if (!found)
      throw new Error(`unknown feedback preset "${preset}" (expected ${FEEDBACK_PRESETS.join(', ')})`);
    sizes = found;
  } else {
    sizes = preset;
  }
  const full = FEEDBACK_SIZES.paper;
  const lists: Record<PromptCategory, Prompt[]> = {
    count: countPrompts(),
    color: colorPrompts(),
    background: backgroundPrompts(),
    combination: combinationPrompts(full.combination.prompts),
  };
  const seen = seenEvalTexts();
  const out: FeedbackPrompt[] = [];
  for (const category of ['count', 'color', 'background', 'combination'] as const) {
    const { prompts, imagesPerPrompt } = sizes[category];
    if (!Number.isInteger(prompts) || prompts < 0)
      throw new Error(`${category}: prompts must be a non-negative integer`);
    if (!Number.isInteger(imagesPerPrompt) || imagesPerPrompt < 1) {
      throw new Error(`${category}: imagesPerPrompt must be a positive integer`);
    }
    for (const prompt of seenFirst(lists[category], prompts, seen)) {
      out.push({ text: formatPrompt(prompt), prompt, category, images: imagesPerPrompt });
    }
  }
  return out;
}

/** Total images of a prompt set. */
export function totalImages(prompts: readonly FeedbackPrompt[]): number {
  return prompts.reduce((s, p) => s + p.images, 0);
}
