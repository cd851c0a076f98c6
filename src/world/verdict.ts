/**
 * Verdicts: does an image show what a prompt asks for? Built on the judge's reading of the
 * pixels (judge.ts); this is the programmatic stand-in for the paper's human label (good / bad,
 * Table 2), plus `unsure` when the judge cannot tell.
 *
 * A prompt asserts its object and any of count, color and background it names:
 *   object      at least one object is found and every found object is of the prompt's class;
 *   count       exactly `count` objects are found ("A dog" asserts no count);
 *   color       every found object has the prompt's color;
 *   background  the background is the prompt's (a prompt without one accepts any background).
 * An attribute whose check fails on a confident reading is failed; one that fails only on a
 * low-confidence reading is uncertain. The label is `bad` if anything failed, else `unsure` if
 * anything is uncertain, else `good`.
 *
 * Well-formedness (the fidelity proxy used by evaluation and the rater panel) asks whether the
 * image can be read at all: at least one object, every object matched by some silhouette with a
 * good fit and a clear class, on a clearly recognised background.
 */
import type { RGBImage } from './image.js';
import { type FoundObject, type Judgement, judgeImage } from './judge.js';
import type { Attribute, Prompt } from './prompt.js';

export type VerdictLabel = 'good' | 'bad' | 'unsure';

export interface Verdict {
  label: VerdictLabel;
  /** attributes that confidently fail, in the order object, count, color, background */
  failed: Attribute[];
  /** attributes that fail only on low-confidence readings */
  uncertain: Attribute[];
  judgement: Judgement;
}

/** Confidence levels below which a reading is not trusted (see judge.ts for their scales). */
export interface VerdictThresholds {
  /** class margin of an object */
  classConfidence: number;
  /** paint margin of an object */
  colorConfidence: number;
  /** background vote margin */
  backgroundConfidence: number;
  /** silhouette fit of an object; below it the object may be a blur artefact */
  fit: number;
}

export const DEFAULT_THRESHOLDS: Readonly<VerdictThresholds> = {
  classConfidence: 0.01,
  colorConfidence: 0.05,
  backgroundConfidence: 0.05,
  fit: 0.3,
};

/** Judges `image` (or takes an existing judgement) against `prompt`. */
export function verdict(
  prompt: Prompt,
  image: RGBImage | Judgement,
  thresholds: VerdictThresholds = DEFAULT_THRESHOLDS,
): Verdict {
  const j = 'data' in image ? judgeImage(image) : image;
  const failed: Attribute[] = [];
  const uncertain: Attribute[] = [];
  const judge = (attr: Attribute, state: 'ok' | 'fail' | 'unsure') => {
    if (state === 'fail') failed.push(attr);
    else if (state === 'unsure') uncertain.push(attr);
  };
  const sure = (o: FoundObject) => o.classConfidence >= thresholds.classConfidence && o.fit >= thresholds.fit;

  // object
  if (j.count === 0) {
    judge('object', 'fail');
  } else {
    const wrong = j.objects.filter((o) => o.object !== prompt.object);
    judge('object', wrong.some(sure) ? 'fail' : wrong.length > 0 ? 'unsure' : 'ok');
  }
  // count
  if (prompt.count !== undefined) {
    if (j.count === prompt.count) judge('count', 'ok');
    else {
      // a count that is off only through doubtful objects is uncertain
      const solid = j.objects.filter((o) => o.fit >= thresholds.fit).length;
      judge('count', solid === j.count || solid !== prompt.count ? 'fail' : 'unsure');
    }
  }
  // color
  if (prompt.color !== undefined && j.count > 0) {
    const wrong = j.objects.filter((o) => o.paint !== prompt.color);
    judge(
      'color',
      wrong.some((o) => o.colorConfidence >= thresholds.colorConfidence)
        ? 'fail'
        : wrong.length > 0
          ? 'unsure'
          : 'ok',
    );
  }
  // background
  if (prompt.background !== undefined) {
    if (j.background === prompt.background) judge('background', 'ok');
    else judge('background', j.backgroundConfidence >= thresholds.backgroundConfidence ? 'fail' : 'unsure');
  }
  const label: VerdictLabel = failed.length > 0 ? 'bad' : uncertain.length > 0 ? 'unsure' : 'good';
  return { label, failed, uncertain, judgement: j };
}

/** Thresholds of well-formedness (fidelity proxy). */
export interface WellFormedThresholds {
  fit: number;
  classConfidence: number;
  backgroundConfidence: number;
}

export const DEFAULT_WELL_FORMED: Readonly<WellFormedThresholds> = {
  fit: 0.6,
  classConfidence: 0.02,
  backgroundConfidence: 0.2,
};

/**
 * Is the image well-formed: the judge finds at least one object, each a known class with a good
 * silhouette fit and a clear margin, on a clearly recognised background?
 */
export function isWellFormed(
  image: RGBImage | Judgement,
  thresholds: WellFormedThresholds = DEFAULT_WELL_FORMED,
): boolean {
  return wellFormedness(image, thresholds) === 1;
}

/**
 * Graded well-formedness in [0, 1]: the share of found objects that are well formed, times 1 if
 * the background is clear (else 0). 0 when nothing is found.
 */
export function wellFormedness(
  image: RGBImage | Judgement,
  thresholds: WellFormedThresholds = DEFAULT_WELL_FORMED,
): number {
  const j = 'data' in image ? judgeImage(image) : image;
  if (j.count === 0 || j.backgroundConfidence < thresholds.backgroundConfidence) return 0;
  const good = j.objects.filter(
    (o) => o.fit >= thresholds.fit && o.classConfidence >= thresholds.classConfidence,
  );
  return good.length / j.count;
}
