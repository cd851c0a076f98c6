/**
 * The 120 evaluation prompts of the paper's Table 4: 60 "seen" (objects of the feedback set) and
 * 60 "unseen" (bear, wolf, tiger, rabbit, rose; never in feedback prompts).
 *
 * The table prints 56 seen and 54 unseen prompts and stops mid-pattern; the lists are completed by
 * the table's own pattern:
 *   seen   ... "Five dogs.", then "Five donuts.", "Five cakes.", "Five vases.", "Five apples."
 *   unseen ... "Four rabbits.", then "Four red roses.", "Five brown bears.", "Five wolves.",
 *              "Five tigers.", "Five rabbits.", "Five red roses."
 *
 * `group` is the Table 4 row group a prompt belongs to (color, background, count). "Two brown
 * bears." and "Two red roses." sit in the count group: they name the objects' natural color
 * (as the paper wrote them) while what varies along the group is the count.
 */
import { formatPrompt, type Prompt } from './prompt.js';
import type { Background, Color, Count, ObjectName } from './vocab.js';

export type EvalSplit = 'seen' | 'unseen';
export type EvalGroup = 'color' | 'background' | 'count';

export interface EvalPrompt {
  text: string;
  prompt: Prompt;
  split: EvalSplit;
  group: EvalGroup;
}

interface SplitPlan {
  colorObjects: readonly ObjectName[];
  colors: readonly Color[];
  /** the fifth object, asked in its own four colors (apple / rose in Table 4) */
  extraObject: ObjectName;
  extraColors: readonly Color[];
  placeObjects: readonly ObjectName[];
  places: readonly Background[];
  /** count prompts, each object optionally with a color ("brown bears") */
  countObjects: ReadonlyArray<{ object: ObjectName; color?: Color }>;
  counts: readonly Count[];
}

const PLANS: Record<EvalSplit, SplitPlan> = {
  seen: {
    colorObjects: ['dog', 'donut', 'cake', 'vase'],
    colors: ['red', 'green', 'pink', 'blue'],
    extraObject: 'apple',
    extraColors: ['black', 'green', 'pink', 'blue'],
    placeObjects: ['dog', 'donut', 'cake', 'vase', 'apple'],
    places: ['moon', 'sea', 'city', 'forest'],
    countObjects: [
      { object: 'dog' },
      { object: 'donut' },
      { object: 'cake' },
      { object: 'vase' },
      { object: 'apple' },
    ],
    counts: [2, 3, 4, 5],
  },
  unseen: {
    colorObjects: ['bear', 'wolf', 'tiger', 'rabbit'],
    colors: ['red', 'green', 'pink', 'blue'],
    extraObject: 'rose',
    extraColors: ['black', 'green', 'pink', 'blue'],
    placeObjects: ['bear', 'wolf', 'tiger', 'rabbit', 'rose'],
    places: ['moon', 'sea', 'city', 'forest'],
    countObjects: [
      { object: 'bear', color: 'brown' },
      { object: 'wolf' },
      { object: 'tiger' },
      { object: 'rabbit' },
      { object: 'rose', color: 'red' },
    ],
    counts: [2, 3, 4, 5],
  },
};

function splitPrompts(split: EvalSplit): EvalPrompt[] {
  const plan = PLANS[split];
  const out: EvalPrompt[] = [];
  const add = (prompt: Prompt, group: EvalGroup) =>
    out.push({ text: formatPrompt(prompt), prompt, split, group });
  for (const color of plan.colors) for (const object of plan.colorObjects) add({ object, color }, 'color');
  for (const color of plan.extraColors) add({ object: plan.extraObject, color }, 'color');
  for (const background of plan.places)
    for (const object of plan.placeObjects) add({ object, background }, 'background');
  for (const count of plan.counts) {
    for (const { object, color } of plan.countObjects)
      add(color ? { object, count, color } : { object, count }, 'count');
  }
  return out;
}

/** The 120 evaluation prompts: 60 seen then 60 unseen, in Table 4's order. */
export function evalPrompts(): EvalPrompt[] {
  return [...splitPrompts('seen'), ...splitPrompts('unseen')];
}
