/**
 * The pretraining corpus: a seeded, indexable stream of (image, caption) pairs with "web-like"
 * captions. Scenes follow `SceneDistribution`; captions are written from the scene through
 * `CaptionNoise`, whose knobs make the pretrained model misaligned the way Stable Diffusion v1.5
 * was (paper Table 2: count 34%, color 70%, background 67%, combination 36% good).
 *
 * Captions never lie about the object. They often leave out the count, color or background, give
 * a count off by one, say "some dogs" or "dogs" instead of a number, and paraphrase
 * ("a red dog", "a dog that is red", "photo of a red dog"). Item i is a pure function of
 * (seed, i), so training can resume at any step and a held-out split is a different seed.
 */

import { renderDegraded } from './degrade.js';
import type { RGBImage } from './image.js';
import {
  DEFAULT_LAYOUT,
  type LayoutOptions,
  LOOSE_LAYOUT,
  layoutObjects,
  renderScene,
  type Scene,
} from './render.js';
import { hashSeed, Rng } from './rng.js';
import {
  BACKGROUND_PHRASES,
  BACKGROUNDS,
  COLORS,
  COUNT_WORDS,
  type Count,
  NATURAL_COLORS,
  OBJECTS,
  type ObjectName,
  type Paint,
  plural,
  type Scenery,
} from './vocab.js';

/** How scenes are drawn. */
export interface SceneDistribution {
  /** relative weights of counts 1..6 (skewed to small numbers) */
  countWeights: readonly [number, number, number, number, number, number];
  /** probability that the objects wear one of the 9 nameable colors instead of their natural color */
  namedColorProb: number;
  /** probability of the plain background */
  plainProb: number;
  /** objects drawn uniformly from this list (all 25 by default: pretraining data sees every object) */
  objects: readonly ObjectName[];
}

/** How a caption is written from a scene. Each probability is drawn independently per caption. */
export interface CaptionNoise {
  /** the count is stated as a number word ("two dogs"; "one dog" or "a dog" for one) */
  countMentionProb: number;
  /** a stated count is off by one (up or down, staying in 1..6) */
  countOffByOneProb: number;
  /** when the count is not stated and there are several objects: "some dogs" or "dogs" (otherwise "a dog") */
  vaguePluralProb: number;
  /** a color other than the object's natural one is mentioned */
  colorMentionProb: number;
  /** the natural color is mentioned ("a brown dog") */
  naturalColorMentionProb: number;
  /** a mentioned color is a wrong one (web captions are sometimes simply wrong) */
  colorWrongProb: number;
  /** a non-plain background is mentioned */
  backgroundMentionProb: number;
  /** a mentioned background is a wrong one */
  backgroundWrongProb: number;
  /** relative weights of the templates: "{np}", "photo of {np}", "{quantifier} {noun} that is/are {color}" */
  templateWeights: readonly [number, number, number];
  /** a stated color is written "red colored" (the evaluation prompts' phrasing) instead of "red" */
  coloredSuffixProb: number;
  /** a trailing period */
  periodProb: number;
}

export const DEFAULT_SCENES: SceneDistribution = {
  countWeights: [0.42, 0.2, 0.13, 0.1, 0.08, 0.07],
  namedColorProb: 0.5,
  plainProb: 0.3,
  objects: OBJECTS,
};

export const DEFAULT_NOISE: CaptionNoise = {
  countMentionProb: 0.1,
  countOffByOneProb: 0.3,
  vaguePluralProb: 0.6,
  colorMentionProb: 0.6,
  naturalColorMentionProb: 0.15,
  colorWrongProb: 0.08,
  backgroundMentionProb: 0.5,
  backgroundWrongProb: 0.1,
  templateWeights: [0.6, 0.25, 0.15],
  coloredSuffixProb: 0.25,
  periodProb: 0.5,
};

export interface CorpusConfig {
  seed: number;
  /** image side in pixels */
  size: number;
  scenes: SceneDistribution;
  noise: CaptionNoise;
  /**
   * share of images rendered with the generator-like degradation of src/world/degrade.ts (jitter, blur,
   * noise) instead of clean; absent = 0. For training an image tower that must read generated samples.
   */
  degradeProb?: number;
  /**
   * share of scenes laid out like a small generator's samples (render.ts LOOSE_LAYOUT: boxes may
   * touch and reach past the frame) instead of MIN_GAP apart inside it; absent = 0. For training an
   * image tower that must count in generated samples.
   */
  looseLayoutProb?: number;
}

export const DEFAULT_CORPUS: CorpusConfig = {
  seed: 0,
  size: 32,
  scenes: DEFAULT_SCENES,
  noise: DEFAULT_NOISE,
};

/** Seed of the held-out split (Fréchet-distance references, CLIP evaluation): never used for training. */
export const HELDOUT_SEED = 1_000_003;

export interface CorpusItem {
  image: RGBImage;
  caption: string;
  /** the scene behind the image (for analysis only; the judge never sees it) */
  scene: Scene;
}

/** Draws a scene: object, count, paint and scenery from the distribution. */
export function drawScene(
  d: SceneDistribution,
  rng: Rng,
  layout: Readonly<LayoutOptions> = DEFAULT_LAYOUT,
): Scene {
  const object = rng.pick(d.objects);
  const count = (rng.weighted(d.countWeights) + 1) as Count;
  const paint: Paint = rng.float() < d.namedColorProb ? rng.pick(COLORS) : NATURAL_COLORS[object];
  const scenery: Scenery = rng.float() < d.plainProb ? 'plain' : rng.pick(BACKGROUNDS);
  const objects = layoutObjects(
    Array.from({ length: count }, () => ({ object, paint })),
    rng,
    layout,
  );
  return { scenery, objects, textureSeed: rng.nextUint32() };
}

/** Writes a noisy caption for a scene (see CaptionNoise). */
export function writeCaption(scene: Scene, n: CaptionNoise, rng: Rng): string {
  const first = scene.objects[0];
  if (!first) throw new Error('writeCaption: scene has no objects');
  const object = first.object;
  const trueCount = scene.objects.length;
  const paint = first.paint;
  // count phrase
  let count: number | null = null;
  if (rng.float() < n.countMentionProb) {
    count = trueCount;
    if (rng.float() < n.countOffByOneProb)
      count = trueCount === 1 ? 2 : trueCount === 6 ? 5 : trueCount + (rng.float() < 0.5 ? -1 : 1);
  }
  // color word
  let color: string | null = null;
  const natural = NATURAL_COLORS[object] === paint;
  if (paint !== 'orange' && rng.float() < (natural ? n.naturalColorMentionProb : n.colorMentionProb)) {
    color = paint;
    if (rng.float() < n.colorWrongProb) color = rng.pick(COLORS.filter((c) => c !== paint));
  }
  if (color && rng.float() < n.coloredSuffixProb) color = `${color} colored`;
  // background phrase
  let place: string | null = null;
  if (scene.scenery !== 'plain' && rng.float() < n.backgroundMentionProb) {
    let b = scene.scenery;
    if (rng.float() < n.backgroundWrongProb) b = rng.pick(BACKGROUNDS.filter((x) => x !== scene.scenery));
    place = BACKGROUND_PHRASES[b];
  }
  // noun phrase
  let np: string;
  const template = rng.weighted(n.templateWeights);
  const many = count !== null ? count > 1 : trueCount > 1 && rng.float() < n.vaguePluralProb;
  const noun = many ? plural(object) : object;
  let quantifier: string;
  if (count !== null)
    quantifier =
      count === 1
        ? rng.float() < 0.5
          ? 'one'
          : article(color ?? object)
        : COUNT_WORDS[count as Count].toLowerCase();
  else quantifier = many ? (rng.float() < 0.5 ? 'some' : '') : article(color ?? object);
  if (template === 2 && color) {
    // "a dog that is red" / "two dogs that are red"
    np = [quantifier, noun, many ? 'that are' : 'that is', color.replace(' colored', '')]
      .filter(Boolean)
      .join(' ');
  } else {
    np = [quantifier, color, noun].filter(Boolean).join(' ');
  }
  if (place) np = `${np} ${place}`;
  if (template === 1) np = `photo of ${np}`;
  return rng.float() < n.periodProb ? `${np}.` : np;
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

/** Item `index` of the corpus: a pure function of (config, index). */
export function corpusItem(c: CorpusConfig, index: number): CorpusItem {
  const rng = new Rng(hashSeed(c.seed, 'corpus', index));
  // drawn only when asked for, so that a corpus without loose layouts is the one it always was
  const loose = (c.looseLayoutProb ?? 0) > 0 && rng.float() < c.looseLayoutProb!;
  const scene = drawScene(c.scenes, rng, loose ? LOOSE_LAYOUT : DEFAULT_LAYOUT);
  const caption = writeCaption(scene, c.noise, rng);
  const degradeProb = c.degradeProb ?? 0;
  const degraded = degradeProb > 0 && rng.float() < degradeProb;
  const image = degraded
    ? renderDegraded(scene, rng, { size: c.size })
    : renderScene(scene, { size: c.size });
  return { image, caption, scene };
}

/** Items start .. start + n - 1. */
export function corpusBatch(c: CorpusConfig, start: number, n: number): CorpusItem[] {
  return Array.from({ length: n }, (_, i) => corpusItem(c, start + i));
}

/** Every word a caption can contain (lower-case), for tokenizer vocabularies. */
export const CAPTION_WORDS: readonly string[] = [
  'some',
  'one',
  'a',
  'an',
  'photo',
  'of',
  'that',
  'is',
  'are',
  'colored',
];
