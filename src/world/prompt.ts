/**
 * The prompt grammar of the paper (Tables 1 and 4) and its structured form.
 *
 *   prompt     := opener [color ["colored"]] noun [place] "."
 *   opener     := "A" | "An"                      (no count: one object, singular noun)
 *               | "One" | "Two" | ... | "Six"     (count; plural noun from "Two" on)
 *   place      := "in the forest" | "in the city" | "on the moon" | "in the field" | "in the sea"
 *               | "on the table" | "in the desert" | "in San Francisco"
 *
 * Canonical text (what `formatPrompt` writes): "Two dogs.", "A green colored dog.",
 * "A dog in the forest.", "Two blue dogs in the forest.", "An apple on the moon.".
 * A color after "A"/"An" is written "<color> colored", after a number word it is a plain
 * adjective ("Two brown bears."). Parsing is case-insensitive and the final period is optional;
 * anything else outside the grammar is rejected with a message naming the offending word.
 */
import {
  BACKGROUND_PHRASES,
  BACKGROUNDS,
  type Background,
  COUNT_WORDS,
  type Color,
  type Count,
  isColor,
  OBJECTS,
  type ObjectName,
  plural,
} from './vocab.js';

/** A prompt as data. `count` absent means "A/An" (one object, count not asserted). */
export interface Prompt {
  object: ObjectName;
  count?: Count;
  color?: Color;
  background?: Background;
}

/** Which attributes a prompt asserts; Table 1's categories, plus `object` for Algorithm 2. */
export type Attribute = 'count' | 'color' | 'background' | 'object';

/** Table 1's categories: exactly one of count/color/background named, or several (combination). */
export type PromptCategory = 'count' | 'color' | 'background' | 'combination';

/** Thrown for text outside the grammar; `word` is the offending word when there is one. */
export class PromptError extends Error {
  constructor(
    message: string,
    readonly word?: string,
  ) {
    super(message);
    this.name = 'PromptError';
  }
}

const COUNT_BY_WORD: ReadonlyMap<string, Count> = new Map(
  Object.entries(COUNT_WORDS).map(([n, w]) => [w.toLowerCase(), Number(n) as Count]),
);
const OBJECT_BY_SINGULAR: ReadonlyMap<string, ObjectName> = new Map(OBJECTS.map((o) => [o, o]));
const OBJECT_BY_PLURAL: ReadonlyMap<string, ObjectName> = new Map(OBJECTS.map((o) => [plural(o), o]));
const BACKGROUND_BY_PHRASE: ReadonlyMap<string, Background> = new Map(
  BACKGROUNDS.map((b) => [BACKGROUND_PHRASES[b].toLowerCase(), b]),
);
/** Every word a place phrase may contain, lower-cased. */
const PLACE_WORDS: ReadonlySet<string> = new Set(
  BACKGROUNDS.flatMap((b) => BACKGROUND_PHRASES[b].toLowerCase().split(' ')),
);

function startsWithVowel(word: string): boolean {
  return /^[aeiou]/i.test(word);
}

/** "A" or "An" for the word that follows. */
export function article(nextWord: string): 'A' | 'An' {
  return startsWithVowel(nextWord) ? 'An' : 'A';
}

/** Structured prompt -> canonical text (see the grammar above). */
export function formatPrompt(p: Prompt): string {
  const words: string[] = [];
  if (p.count === undefined) {
    const adjective = p.color ? `${p.color} colored` : '';
    const head = adjective || p.object;
    words.push(article(head));
    if (adjective) words.push(adjective);
    words.push(p.object);
  } else {
    words.push(COUNT_WORDS[p.count]);
    if (p.color) words.push(p.color);
    words.push(p.count === 1 ? p.object : plural(p.object));
  }
  if (p.background) words.push(BACKGROUND_PHRASES[p.background]);
  return `${words.join(' ')}.`;
}

function unknownWord(word: string, text: string, expected: string): PromptError {
  return new PromptError(`unknown word "${word}" in prompt "${text}" (expected ${expected})`, word);
}

/** Canonical text -> structured prompt. Throws PromptError naming the word it cannot place. */
export function parsePrompt(text: string): Prompt {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  if (trimmed === '' || trimmed === '.') throw new PromptError('empty prompt');
  const body = trimmed.endsWith('.') ? trimmed.slice(0, -1).trimEnd() : trimmed;
  const words = body.split(' ');
  const lower = words.map((w) => w.toLowerCase());
  let i = 0;

  // 1. opener: article or number word
  const opener = lower[i++]!;
  let count: Count | undefined;
  if (opener === 'a' || opener === 'an') {
    count = undefined;
  } else if (COUNT_BY_WORD.has(opener)) {
    count = COUNT_BY_WORD.get(opener)!;
  } else {
    throw unknownWord(words[0]!, text, 'a prompt to start with A, An or a number word One..Six');
  }
  const singular = count === undefined || count === 1;

  // 2. optional color, "colored" optional
  let color: Color | undefined;
  const maybeColor = lower[i];
  if (maybeColor !== undefined && isColor(maybeColor)) {
    color = maybeColor;
    i++;
    if (lower[i] === 'colored') i++;
  }

  // 3. the noun, with number agreement
  const nounWord = lower[i];
  if (nounWord === undefined)
    throw new PromptError(
      `prompt "${text}" has no object (e.g. "${formatPrompt({ object: 'dog', count: 2 })}")`,
    );
  const asSingular = OBJECT_BY_SINGULAR.get(nounWord);
  const asPlural = OBJECT_BY_PLURAL.get(nounWord);
  if (asSingular === undefined && asPlural === undefined) {
    throw unknownWord(words[i]!, text, `an object: ${OBJECTS.join(', ')}`);
  }
  if (singular && asSingular === undefined) {
    throw new PromptError(`"${words[i]}" must be singular after "${words[0]}" in prompt "${text}"`, words[i]);
  }
  if (!singular && asPlural === undefined) {
    throw new PromptError(`"${words[i]}" must be plural after "${words[0]}" in prompt "${text}"`, words[i]);
  }
  const object = (singular ? asSingular : asPlural)!;
  i++;

  // 4. the article must agree with the word it introduces ("An apple", "A red colored apple")
  if (count === undefined) {
    const want = article(words[1]!).toLowerCase();
    if (opener !== want) {
      throw new PromptError(
        `"${words[0]}" should be "${article(words[1]!)}" before "${words[1]}" in prompt "${text}"`,
        words[0],
      );
    }
  }

  // 5. optional place phrase
  let background: Background | undefined;
  if (i < lower.length) {
    const rest = lower.slice(i);
    for (let k = 0; k < rest.length; k++) {
      if (!PLACE_WORDS.has(rest[k]!)) {
        throw unknownWord(
          words[i + k]!,
          text,
          `a place: ${BACKGROUNDS.map((b) => BACKGROUND_PHRASES[b]).join(', ')}`,
        );
      }
    }
    const phrase = rest.join(' ');
    background = BACKGROUND_BY_PHRASE.get(phrase);
    if (background === undefined) {
      const place = BACKGROUNDS.find((b) => rest.includes(b.toLowerCase().split(' ').at(-1)!));
      const hint = place ? `; did you mean "${BACKGROUND_PHRASES[place]}"?` : '';
      throw new PromptError(`cannot read place "${words.slice(i).join(' ')}" in prompt "${text}"${hint}`);
    }
  }

  const p: Prompt = { object };
  if (count !== undefined) p.count = count;
  if (color !== undefined) p.color = color;
  if (background !== undefined) p.background = background;
  return p;
}

/** Attributes a prompt asserts besides its object, in the order count, color, background. */
export function namedAttributes(p: Prompt): Array<'count' | 'color' | 'background'> {
  const out: Array<'count' | 'color' | 'background'> = [];
  if (p.count !== undefined) out.push('count');
  if (p.color !== undefined) out.push('color');
  if (p.background !== undefined) out.push('background');
  return out;
}

/** Table 1 category by the attributes named; null for a bare "A dog.". */
export function promptCategory(p: Prompt): PromptCategory | null {
  const named = namedAttributes(p);
  if (named.length === 0) return null;
  if (named.length > 1) return 'combination';
  return named[0]!;
}

/** Structural equality of two prompts. */
export function samePrompt(a: Prompt, b: Prompt): boolean {
  return a.object === b.object && a.count === b.count && a.color === b.color && a.background === b.background;
}
