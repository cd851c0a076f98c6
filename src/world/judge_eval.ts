/**
 * Measures the judge on fresh random scenes (issue 3's acceptance numbers; used by the tests and
 * by bench/judge.ts).
 *
 * A case is a random prompt (count, color, background or combination category, any of the 25
 * objects) and a scene that either realises it (truth `good`) or differs from it in exactly one
 * asserted attribute or the object (truth `bad`, that attribute failed), half and half. Attributes
 * the prompt leaves open are drawn at random too (any paint, any background including plain), so
 * every color and background is exercised. A verdict is exact when its label equals the truth and,
 * for `bad`, it names exactly the failed attribute.
 */
import { renderDegraded } from './degrade.js';
import type { RGBImage } from './image.js';
import { judgeImage } from './judge.js';
import type { Attribute, Prompt } from './prompt.js';
import { layoutObjects, renderScene, type Scene } from './render.js';
import { Rng } from './rng.js';
import { verdict } from './verdict.js';
import { BACKGROUNDS, COLORS, COUNTS, type Count, OBJECTS, PAINTS, type Paint, SCENERIES } from './vocab.js';

export interface JudgeCase {
  prompt: Prompt;
  scene: Scene;
  truth: { label: 'good' | 'bad'; failed: Attribute[] };
}

function other<T>(rng: Rng, items: readonly T[], not: T): T {
  const rest = items.filter((x) => x !== not);
  return rng.pick(rest);
}

/** A random (prompt, scene, truth) case. */
export function randomCase(rng: Rng): JudgeCase {
  const object = rng.pick(OBJECTS);
  const category = rng.pick(['count', 'color', 'background', 'combination'] as const);
  const prompt: Prompt = { object };
  if (category === 'count' || category === 'combination') prompt.count = rng.pick(COUNTS);
  if (category === 'color' || category === 'combination') prompt.color = rng.pick(COLORS);
  if (category === 'background' || category === 'combination') prompt.background = rng.pick(BACKGROUNDS);

  let sceneObject = object;
  let count: Count = prompt.count ?? 1;
  let paint: Paint = prompt.color ?? rng.pick(PAINTS);
  let scenery = prompt.background ?? rng.pick(SCENERIES);
  const failed: Attribute[] = [];
  if (rng.bernoulli(0.5)) {
    const asserted: Attribute[] = ['object'];
    if (prompt.count !== undefined) asserted.push('count');
    if (prompt.color !== undefined) asserted.push('color');
    if (prompt.background !== undefined) asserted.push('background');
    const attr = rng.pick(asserted);
    failed.push(attr);
    if (attr === 'object') sceneObject = other(rng, OBJECTS, object);
    if (attr === 'count') count = other(rng, COUNTS, count);
    if (attr === 'color') paint = other(rng, PAINTS, paint);
    if (attr === 'background') scenery = other(rng, SCENERIES, scenery);
  }
  const objects = layoutObjects(
    Array.from({ length: count }, () => ({ object: sceneObject, paint })),
    rng,
  );
  return {
    prompt,
    scene: { scenery, objects, textureSeed: rng.nextUint32() },
    truth: { label: failed.length > 0 ? 'bad' : 'good', failed },
  };
}

export interface JudgeAccuracy {
  cases: number;
  /** scene-level: background right */
  background: number;
  /** scene-level: number of objects right */
  count: number;
  /** scene-level: at least one object found and every found object of the right class */
  object: number;
  /** scene-level: at least one object found and every found object of the right paint */
  color: number;
  /** verdict label equals truth and names exactly the failed attribute */
  exactVerdict: number;
  /** share of `unsure` verdicts */
  unsure: number;
}

/**
 * Accuracy of the judge on `cases` random scenes (seeded), clean or degraded
 * (degrade.ts: noise 0.05, 3x3 blur, +-1 px object jitter, +-0.08 color jitter).
 */
export function measureJudge(options: { cases: number; seed: number; degraded: boolean }): JudgeAccuracy {
  const rng = new Rng(options.seed);
  const acc = { background: 0, count: 0, object: 0, color: 0, exactVerdict: 0, unsure: 0 };
  for (let i = 0; i < options.cases; i++) {
    const c = randomCase(rng);
    const image: RGBImage = options.degraded ? renderDegraded(c.scene, rng) : renderScene(c.scene);
    const j = judgeImage(image);
    const truthObject = c.scene.objects[0]!;
    acc.background += +(j.background === c.scene.scenery);
    acc.count += +(j.count === c.scene.objects.length);
    acc.object += +(j.count > 0 && j.objects.every((o) => o.object === truthObject.object));
    acc.color += +(j.count > 0 && j.objects.every((o) => o.paint === truthObject.paint));
    const v = verdict(c.prompt, j);
    acc.unsure += +(v.label === 'unsure');
    const exact =
      v.label === c.truth.label &&
      (v.label !== 'bad' ||
        (v.failed.length === c.truth.failed.length && v.failed.every((a) => c.truth.failed.includes(a))));
    acc.exactVerdict += +exact;
  }
  const n = options.cases;
  return {
    cases: n,
    background: acc.background / n,
    count: acc.count / n,
    object: acc.object / n,
    color: acc.color / n,
    exactVerdict: acc.exactVerdict / n,
    unsure: acc.unsure / n,
  };
}
