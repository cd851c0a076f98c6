/**
 * The paper's vocabulary (Lee et al. 2023, appendix B): 9 colors, counts 1-6, 8 backgrounds and
 * 25 objects, of which bear, tiger, rabbit, rose and wolf are held out of the feedback data
 * (the "unseen" objects of Table 4).
 */

export const COLORS = [
  'red',
  'yellow',
  'green',
  'blue',
  'black',
  'pink',
  'purple',
  'white',
  'brown',
] as const;
/** A color a prompt can name. */
export type Color = (typeof COLORS)[number];

/**
 * Colors the renderer paints with: the 9 nameable ones plus `orange`, which is only ever an
 * object's natural color (the fruit, the tiger, the cat). No prompt can ask for it because
 * "orange" is an object word.
 */
export const PAINTS = [...COLORS, 'orange'] as const;
export type Paint = (typeof PAINTS)[number];

export const COUNTS = [1, 2, 3, 4, 5, 6] as const;
export type Count = (typeof COUNTS)[number];

/** Number words as they open a prompt ("Two dogs."). */
export const COUNT_WORDS: Readonly<Record<Count, string>> = {
  1: 'One',
  2: 'Two',
  3: 'Three',
  4: 'Four',
  5: 'Five',
  6: 'Six',
};

export const BACKGROUNDS = [
  'forest',
  'city',
  'moon',
  'field',
  'sea',
  'table',
  'desert',
  'San Francisco',
] as const;
/** A background a prompt can name. */
export type Background = (typeof BACKGROUNDS)[number];
/** A background the renderer can draw: the 8 nameable ones or `plain` (what "no background" renders as). */
export type Scenery = Background | 'plain';
export const SCENERIES: readonly Scenery[] = [...BACKGROUNDS, 'plain'];

/** The prepositional phrase of each background, without the final period. */
export const BACKGROUND_PHRASES: Readonly<Record<Background, string>> = {
  forest: 'in the forest',
  city: 'in the city',
  moon: 'on the moon',
  field: 'in the field',
  sea: 'in the sea',
  table: 'on the table',
  desert: 'in the desert',
  'San Francisco': 'in San Francisco',
};

export const OBJECTS = [
  'dog',
  'cat',
  'lion',
  'orange',
  'vase',
  'cup',
  'apple',
  'chair',
  'bird',
  'cake',
  'bicycle',
  'tree',
  'donut',
  'box',
  'plate',
  'clock',
  'backpack',
  'car',
  'airplane',
  'bear',
  'horse',
  'tiger',
  'rabbit',
  'rose',
  'wolf',
] as const;
export type ObjectName = (typeof OBJECTS)[number];

/** Objects that never appear in feedback prompts (paper Table 4, "unseen"). */
export const UNSEEN_OBJECTS: readonly ObjectName[] = ['bear', 'tiger', 'rabbit', 'rose', 'wolf'];
/** The 20 objects feedback prompts may use, in vocabulary order. */
export const SEEN_OBJECTS: readonly ObjectName[] = OBJECTS.filter((o) => !UNSEEN_OBJECTS.includes(o));

const IRREGULAR_PLURALS: Partial<Record<ObjectName, string>> = { wolf: 'wolves', box: 'boxes' };

/** "dog" -> "dogs", "wolf" -> "wolves", "box" -> "boxes". */
export function plural(object: ObjectName): string {
  return IRREGULAR_PLURALS[object] ?? `${object}s`;
}

/** The color an object is painted when the prompt names none. */
export const NATURAL_COLORS: Readonly<Record<ObjectName, Paint>> = {
  dog: 'brown',
  cat: 'orange',
  lion: 'yellow',
  orange: 'orange',
  vase: 'blue',
  cup: 'white',
  apple: 'red',
  chair: 'brown',
  bird: 'blue',
  cake: 'white',
  bicycle: 'red',
  tree: 'green',
  donut: 'brown',
  box: 'brown',
  plate: 'white',
  clock: 'white',
  backpack: 'purple',
  car: 'red',
  airplane: 'white',
  bear: 'brown',
  horse: 'brown',
  tiger: 'orange',
  rabbit: 'white',
  rose: 'red',
  wolf: 'black',
};

export function isColor(word: string): word is Color {
  return (COLORS as readonly string[]).includes(word);
}

export function isBackground(word: string): word is Background {
  return (BACKGROUNDS as readonly string[]).includes(word);
}
