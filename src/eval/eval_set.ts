/**
 * What an evaluation is run on: the prompts (the 120 of the paper's Table 4, or any list in the world
 * grammar), the seeds of each model's images, and the reference images of the Fréchet distance.
 *
 * Seeds. Image k of prompt i has seed `candidateSeed(seed, i, 16, k)` = seed + 16 i + k for every
 * model: the same seeds for every model, and the very seeds of rejection sampling's candidates 0..3
 * (sampling/rejection.ts, `t2i-align sample --candidates 16` on the same prompt list and seed). So the
 * original model's 4 evaluation images are the "4 random samples" that the best 4 of 16 are compared
 * with in Figure 6a.
 */
import { candidateSeed } from '../sampling/rejection.js';
import { corpusBatch, DEFAULT_CORPUS, HELDOUT_SEED } from '../world/corpus.js';
import { evalPrompts } from '../world/eval_prompts.js';
import type { RGBImage } from '../world/image.js';
import { type Prompt, type PromptCategory, parsePrompt, promptCategory } from '../world/prompt.js';
import { UNSEEN_OBJECTS } from '../world/vocab.js';

/** Candidates per prompt of the paper's rejection sampling; the seed stride of evaluation images. */
export const REJECTION_CANDIDATES = 16;
/** Images per prompt and model (paper: sets of 4 images). */
export const IMAGES_PER_PROMPT = 4;

export type EvalSplitName = 'seen' | 'unseen';

/** One evaluation prompt. */
export interface EvalItem {
  /** position in the evaluated list (seeds depend on it) */
  index: number;
  text: string;
  prompt: Prompt;
  /** seen: its object appears in feedback prompts; unseen: bear, wolf, tiger, rabbit, rose */
  split: EvalSplitName;
  category: PromptCategory;
}

/** Seed of image k of prompt i (see the file comment). */
export function evalSeed(seed: number, promptIndex: number, k: number): number {
  return candidateSeed(seed, promptIndex, REJECTION_CANDIDATES, k);
}

/**
 * Evaluation items for a list of prompt texts. A prompt of Table 4 keeps its split; any other is
 * unseen when its object is one of the five the feedback set leaves out. A prompt outside the grammar,
 * or one naming no count, color or background (no category of Table 1, e.g. "A dog."), is an error.
 */
export function evalItems(texts: readonly string[]): EvalItem[] {
  const table4 = new Map(evalPrompts().map((p) => [p.text, p.split]));
  return texts.map((text, index) => {
    const prompt = parsePrompt(text);
    const category = promptCategory(prompt);
    if (category === null)
      throw new Error(
        `prompt "${text}" names no count, color or background, so it has no category (paper Table 1); evaluation prompts need one`,
      );
    const split = table4.get(text) ?? (UNSEEN_OBJECTS.includes(prompt.object) ? 'unseen' : 'seen');
    return { index, text, prompt, split, category };
  });
}

/** Every `every`-th of the paper's 120 evaluation prompts (60 seen, then 60 unseen), as prompt texts. */
export function table4Texts(every = 1): string[] {
  if (!Number.isInteger(every) || every < 1)
    throw new Error(`every must be a positive integer, got ${every}`);
  return evalPrompts()
    .filter((_, i) => i % every === 0)
    .map((p) => p.text);
}

/**
 * The Fréchet distance's reference set: renders of the first `n` items of the held-out corpus
 * (HELDOUT_SEED: captions and scenes never used in pretraining), at `size` px.
 */
export function heldoutRenders(n: number, size: number): RGBImage[] {
  if (!Number.isInteger(n) || n < 2) throw new Error(`the FD reference needs at least 2 images, got ${n}`);
  return corpusBatch({ ...DEFAULT_CORPUS, seed: HELDOUT_SEED, size }, 0, n).map((c) => c.image);
}
