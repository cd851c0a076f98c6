/**
 * Perturbed prompts for the reward model's prompt-classification loss (paper eq. 1, Algorithm 2).
 *
 * Algorithm 2 draws random (count, color, place, object) prompts and keeps those that differ from
 * the original. Here each perturbation changes exactly one attribute the prompt asserts, or its
 * object, to another value of the vocabulary, so every negative is a near miss ("Two dogs." ->
 * "Three dogs.", "Two cats."), always grammatical and never equal to the original. Attributes the
 * prompt does not name are never added: "Two brown dogs." is no negative for "Two dogs.", it may
 * describe the very same image. If more perturbations are asked for than single changes exist,
 * the rest change two attributes at once.
 */
import { formatPrompt, type Prompt, samePrompt } from './prompt.js';
import { Rng } from './rng.js';
import { BACKGROUNDS, COLORS, COUNTS, type ObjectName, SEEN_OBJECTS } from './vocab.js';

export interface PerturbOptions {
  /** seed of the draw (deterministic per prompt text and seed) */
  seed: number;
  /**
   * Objects a perturbation may swap in. Default: the 20 seen objects, so that perturbed prompts
   * built from feedback data never mention an unseen object either.
   */
  objects?: readonly ObjectName[];
  /** prompt texts (as formatPrompt writes them) never returned, e.g. held-out prompts */
  exclude?: ReadonlySet<string>;
}

type Mutable = 'count' | 'color' | 'background' | 'object';

/** All prompts that differ from `p` in exactly one asserted attribute (or the object). */
function singleChanges(p: Prompt, objects: readonly ObjectName[]): Map<Mutable, Prompt[]> {
  const out = new Map<Mutable, Prompt[]>();
  const add = (key: Mutable, q: Prompt) => {
    if (!samePrompt(q, p)) (out.get(key) ?? out.set(key, []).get(key)!).push(q);
  };
  if (p.count !== undefined) for (const count of COUNTS) add('count', { ...p, count });
  if (p.color !== undefined) for (const color of COLORS) add('color', { ...p, color });
  if (p.background !== undefined)
    for (const background of BACKGROUNDS) add('background', { ...p, background });
  for (const object of objects) add('object', { ...p, object });
  return out;
}

/**
 * `n` distinct perturbations of `p` (Algorithm 2's Get_perturbated_prompts), none equal to `p`.
 * Each draw first picks which attribute to change (uniformly among those that can change), then
 * the new value, so count/color/background changes are not swamped by the 19 possible objects.
 */
export function perturbPrompts(p: Prompt, n: number, options: PerturbOptions): Prompt[] {
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`perturbPrompts: n must be a non-negative integer, got ${n}`);
  const objects = options.objects ?? SEEN_OBJECTS;
  const rng = new Rng(options.seed).fork('perturb', formatPrompt(p));
  const pools = singleChanges(p, objects);
  for (const pool of pools.values()) rng.shuffle(pool);
  const out: Prompt[] = [];
  const seen = new Set<string>([formatPrompt(p)]);
  const take = (q: Prompt) => {
    const key = formatPrompt(q);
    if (seen.has(key) || options.exclude?.has(key)) return false;
    seen.add(key);
    out.push(q);
    return true;
  };
  while (out.length < n) {
    const keys = [...pools.keys()].filter((k) => pools.get(k)!.length > 0);
    if (keys.length === 0) break;
    take(pools.get(rng.pick(keys))!.pop()!);
  }
  // more asked than single changes exist: change two attributes of an already-perturbed prompt
  let guard = 0;
  while (out.length < n) {
    if (out.length === 0 || guard++ > 100 * n + 1000) {
      throw new Error(`perturbPrompts: cannot make ${n} distinct perturbations of "${formatPrompt(p)}"`);
    }
    const base = rng.pick(out.slice(0, Math.max(1, out.length)));
    const second = [...singleChanges(base, objects).values()].flat();
    take(rng.pick(second));
  }
  return out;
}
