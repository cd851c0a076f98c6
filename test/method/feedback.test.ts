/**
 * The feedback data set: the plan (sizes, unlabeled share, seeds, paths), building it from a tiny
 * original model with a stop after a few images and a second call that completes it, and simulated
 * labels stored like human ones.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FeedbackDb } from '../../src/feedback/db.js';
import { tensorToImages } from '../../src/models/images.js';
import { type LoadedPipeline, loadPipeline } from '../../src/models/t2i_checkpoint.js';
import {
  buildFeedbackSet,
  planFeedbackSet,
  planSummary,
  simulateLabels,
  UNLABELED_FRACTION,
} from '../../src/sampling/feedback_set.js';
import { simulatedLabelers, WorldLabeler } from '../../src/sampling/labelers.js';
import { openRunDb } from '../../src/sampling/run.js';
import { setNumThreads } from '../../src/torch/index.js';
import type { RGBImage } from '../../src/world/image.js';
import { parsePrompt } from '../../src/world/prompt.js';
import { render } from '../../src/world/render.js';
import { UNSEEN_OBJECTS } from '../../src/world/vocab.js';
import { TINY_SIZES, tempDir, tinyCheckpoints } from './fixtures.js';

// tiny models: one thread avoids OpenMP's per-op overhead on a shared 2-core machine
setNumThreads(1);

test('the plan: Table 2 sizes per preset, the unlabeled share per category, stable seeds and paths', () => {
  const quick = planSummary(planFeedbackSet('quick'));
  assert.deepEqual(quick.feedback, {
    count: 540,
    color: 290,
    background: 200,
    combination: 1264,
    total: 2294,
  });
  // round(16,000 / 27,528 x images) per category
  assert.deepEqual(quick.unlabeled, {
    count: 314,
    color: 169,
    background: 116,
    combination: 735,
    total: 1334,
  });
  const paper = planSummary(planFeedbackSet('paper'));
  assert.equal(paper.feedback.total, 27_528);
  assert.ok(Math.abs(paper.unlabeled.total - 16_000) <= 2, `${paper.unlabeled.total} unlabeled`);
  assert.deepEqual(planSummary(planFeedbackSet('smoke')).unlabeled, {
    count: 7,
    color: 3,
    background: 2,
    combination: 16,
    total: 28,
  });
  const plan = planFeedbackSet('quick');
  assert.equal(new Set(plan.map((p) => p.path)).size, plan.length, 'one file per image');
  assert.equal(new Set(plan.map((p) => p.seed)).size, plan.length, 'one seed per image');
  for (const p of plan) assert.ok(!UNSEEN_OBJECTS.includes(p.prompt.object));
  // the same prompt's k-th image is the same (seed, file) in every preset
  const smoke = new Map(planFeedbackSet('smoke').map((p) => [p.path, p.seed]));
  const shared = plan.filter((p) => smoke.has(p.path));
  assert.ok(shared.length > 0);
  for (const p of shared) assert.equal(smoke.get(p.path), p.seed);
  assert.notDeepEqual(
    planFeedbackSet('smoke', { seed: 1 }).map((p) => p.seed),
    planFeedbackSet('smoke').map((p) => p.seed),
  );
  assert.ok(Math.abs(UNLABELED_FRACTION - 0.5812) < 1e-4);
});

let dir: string;
let base: LoadedPipeline;

before(() => {
  dir = tempDir();
  base = loadPipeline(tinyCheckpoints(dir).baseDir);
});
after(() => {
  base.unet.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const generate = (prompts: string[], seeds: number[]): RGBImage[] => {
  const t = base.pipeline.generate(prompts, { seeds, steps: 2, guidance: 2, batchSize: 8 });
  const images = tensorToImages(t);
  t.dispose();
  return images;
};

async function build(runDir: string, db: FeedbackDb, limit?: number) {
  return buildFeedbackSet({
    runDir,
    db,
    plan: planFeedbackSet(TINY_SIZES),
    modelName: 'original',
    generate,
    sampler: { sampler: 'ddim', steps: 2, guidance: 2, eta: 0 },
    batchSize: 3,
    limit,
  });
}

test('feedback build stops after a limit and a second call completes the set with the same images', async () => {
  const plan = planFeedbackSet(TINY_SIZES);
  // 10 feedback + round(0.58 x the category's images) unlabeled: count 2, color 1, background 1, combination 1
  assert.equal(plan.length, 10 + 5);
  const runA = join(dir, 'runA');
  const dbA = await openRunDb(runA);
  try {
    const first = await build(runA, dbA, 4);
    assert.deepEqual(first, { planned: 15, existing: 0, generated: 4, registered: 0, remaining: 11 });
    assert.equal((await dbA.listImages()).length, 4);
    const second = await build(runA, dbA);
    assert.deepEqual(second, { planned: 15, existing: 4, generated: 11, registered: 0, remaining: 0 });
    const third = await build(runA, dbA);
    assert.deepEqual(third, { planned: 15, existing: 15, generated: 0, registered: 0, remaining: 0 });
    const images = await dbA.listImages();
    assert.equal(images.length, 15);
    assert.equal(images.filter((i) => i.purpose === 'feedback').length, 10);
    assert.equal(images.filter((i) => i.purpose === 'unlabeled').length, 5);
    const im = images.find((i) => i.path === plan[0]!.path)!;
    assert.equal(im.seed, plan[0]!.seed);
    assert.equal(im.prompt, plan[0]!.text);
    assert.equal(im.category, plan[0]!.category);
    assert.deepEqual(im.sampler, { sampler: 'ddim', steps: 2, guidance: 2, eta: 0 });
    // an uninterrupted build draws the very same files
    const runB = join(dir, 'runB');
    const dbB = await openRunDb(runB);
    try {
      await build(runB, dbB);
      for (const p of plan)
        assert.ok(readFileSync(join(runA, p.path)).equals(readFileSync(join(runB, p.path))), p.path);
    } finally {
      await dbB.close();
    }
    // images on disk but missing from the database (a kill between write and commit) are registered, not sampled again
    const runC = join(dir, 'runC');
    cpSync(join(runA, 'images'), join(runC, 'images'), { recursive: true });
    const dbC = await openRunDb(runC);
    try {
      assert.deepEqual(await build(runC, dbC), {
        planned: 15,
        existing: 0,
        generated: 0,
        registered: 15,
        remaining: 0,
      });
      assert.equal((await dbC.listImages()).length, 15);
    } finally {
      await dbC.close();
    }
  } finally {
    await dbA.close();
  }
});

test('simulated labelers label every feedback image once each, stored like human labels; a rerun adds nothing', async () => {
  const run = join(dir, 'runA');
  const db = await openRunDb(run);
  try {
    // a stand-in labeler whose answers are easy to predict: good when the image is bright
    const bright = (img: RGBImage) => img.data.reduce((s, v) => s + v, 0) / img.data.length;
    const labelers = ['ann', 'bob'].map((name, i) => ({
      name,
      label: (img: RGBImage, _prompt: string, key: string) =>
        i === 1 && key.endsWith('-01.png')
          ? ('skip' as const)
          : bright(img) > 0.5
            ? ('good' as const)
            : ('bad' as const),
    }));
    const first = await simulateLabels({ runDir: run, db, labelers });
    assert.deepEqual(first, { images: 10, inserted: 20, existing: 0 });
    const again = await simulateLabels({ runDir: run, db, labelers });
    assert.deepEqual(again, { images: 10, inserted: 0, existing: 20 });
    const labels = await db.listLabels({ purpose: 'feedback' });
    assert.equal(labels.length, 20);
    assert.ok(labels.every((l) => l.labelerKind === 'simulated'));
    const skips = labels.filter((l) => l.value === 'skip');
    assert.ok(skips.length > 0 && skips.every((l) => l.labeler === 'bob' && l.imagePath.endsWith('-01.png')));
    const total = (await db.table2Summary()).find((r) => r.category === 'total')!;
    assert.equal(total.images, 10);
    assert.equal(total.labels, 20);
    assert.ok(Math.abs(total.goodPct + total.badPct + total.skipPct - 100) < 1e-9);
    assert.equal(
      (await db.listImages({ purpose: 'unlabeled' })).filter((i) => i.nLabels > 0).length,
      0,
      'unlabeled images stay unlabeled',
    );
  } finally {
    await db.close();
  }
});

test("the simulated labeler (the world's BinaryLabeler) answers like the world's judge, slips at its error rate, skips unsure images", () => {
  const image = render(parsePrompt('Two red dogs in the forest.'), 11);
  const exact = new WorldLabeler('exact', { errorRate: 0, skipRate: 0, seed: 0 });
  assert.equal(exact.label(image, 'Two red dogs in the forest.', 'a.png'), 'good');
  assert.equal(exact.label(image, 'Three red dogs in the forest.', 'a.png'), 'bad');
  assert.equal(exact.label(image, 'Two blue dogs in the forest.', 'a.png'), 'bad');
  const contrary = new WorldLabeler('contrary', { errorRate: 1, skipRate: 0, seed: 0 });
  assert.equal(contrary.label(image, 'Two red dogs in the forest.', 'a.png'), 'bad');
  assert.equal(
    new WorldLabeler('lazy', { errorRate: 0, skipRate: 1, seed: 0 }).label(
      image,
      'Two red dogs in the forest.',
      'a.png',
    ),
    'skip',
  );
  // two labelers with 10% slips disagree on about 2 x 0.1 x 0.9 = 18% of the images
  const [a, b] = simulatedLabelers(2, { errorRate: 0.1, skipRate: 0 });
  let disagree = 0;
  const n = 400;
  for (let i = 0; i < n; i++)
    if (
      a!.label(image, 'Two red dogs in the forest.', `k${i}`) !==
      b!.label(image, 'Two red dogs in the forest.', `k${i}`)
    )
      disagree++;
  assert.ok(Math.abs(disagree / n - 0.18) < 0.06, `disagreement ${disagree / n}`);
  // the same labeler answers the same image the same way every time
  assert.equal(
    a!.label(image, 'Two red dogs in the forest.', 'k7'),
    a!.label(image, 'Two red dogs in the forest.', 'k7'),
  );
});
