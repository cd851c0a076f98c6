/**
 * The reward model: the prompt-classification loss against hand-computed values, perturbations,
 * label combination and the split, thresholds, and a "training learns" test on a synthetic labeled set.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LabelInfo } from '../../src/feedback/types.js';
import { REWARD_FEATURES, type RewardFeatures } from '../../src/reward/config.js';
import {
  examplesFromLabels,
  imageFolds,
  promptFolds,
  type RewardExample,
  splitByPrompt,
  subsampleExamples,
} from '../../src/reward/data.js';
import { EmbeddingStore } from '../../src/reward/embeddings.js';
import { bestThreshold, categoryThresholds, labelAccuracy } from '../../src/reward/metrics.js';
import { promptClassificationCE, promptClassificationLoss } from '../../src/reward/prompt_classification.js';
import { RewardModel, rewardInputDim } from '../../src/reward/reward_model.js';
import {
  clipScores,
  perturbedTexts,
  scoreExamples,
  type TextEmbeddings,
  trainRewardModel,
} from '../../src/reward/train.js';
import {
  fromTypedArray,
  Generator,
  liveTensors,
  setNumThreads,
  type Tensor,
  tensor,
  tidy,
} from '../../src/torch/index.js';
import { feedbackPrompts } from '../../src/world/feedback_prompts.js';
import { perturbPrompts } from '../../src/world/perturb.js';
import { formatPrompt, parsePrompt } from '../../src/world/prompt.js';
import { hashSeed, Rng } from '../../src/world/rng.js';

// tiny models: one thread avoids OpenMP's per-op overhead on a shared 2-core machine
setNumThreads(1);

test('the PC loss equals the hand-computed cross-entropy (eq. 1, true prompt = class 0)', () => {
  tidy(() => {
    // scores r(x, z_j) for 2 images, 1 true + 2 perturbed prompts each; T = 0.5
    const scores = tensor([
      [1.0, 0.0, 0.5],
      [0.2, 0.4, 0.1],
    ]);
    // by hand: CE_i = log(sum_j exp(r_ij / T)) - r_i0 / T
    const ce0 = Math.log(Math.exp(2) + Math.exp(0) + Math.exp(1)) - 2; // 0.4076059644
    const ce1 = Math.log(Math.exp(0.4) + Math.exp(0.8) + Math.exp(0.2)) - 0.4; // 1.1971159852
    assert.ok(Math.abs(ce0 - 0.4076059644) < 1e-9 && Math.abs(ce1 - 1.1971159852) < 1e-9);
    const per = promptClassificationCE(scores, 0.5).toArray();
    assert.ok(Math.abs(per[0]! - ce0) < 1e-6, `CE_0 ${per[0]} vs ${ce0}`);
    assert.ok(Math.abs(per[1]! - ce1) < 1e-6, `CE_1 ${per[1]} vs ${ce1}`);
    assert.ok(Math.abs(promptClassificationLoss(scores, 0.5).item() - 0.8023609748) < 1e-6);
    // label-weighted (pcImages 'good'): weights 1 and 0.5 -> (ce0 + 0.5 ce1) / 1.5
    assert.ok(Math.abs(promptClassificationLoss(scores, 0.5, tensor([1, 0.5])).item() - 0.6707759714) < 1e-6);
    // every weight zero: no PC term
    assert.equal(promptClassificationLoss(scores, 0.5, tensor([0, 0])).item(), 0);
  });
});

test('perturbed prompts never include the original and are distinct', () => {
  for (const fp of feedbackPrompts('quick').slice(0, 400)) {
    const ex: RewardExample = {
      imageId: 7,
      imagePath: 'x.png',
      prompt: fp.text,
      category: fp.category,
      y: 1,
      labels: [1],
    };
    for (const epoch of [0, 1, 'eval'] as const) {
      const texts = perturbedTexts(ex, 8, 0, epoch);
      assert.equal(texts.length, 8);
      assert.ok(!texts.includes(fp.text), `${fp.text} among its perturbations`);
      assert.equal(new Set(texts).size, 8);
      for (const t of texts) assert.equal(formatPrompt(parsePrompt(t)), t, 'grammatical');
    }
  }
  // the draw changes with the epoch (Algorithm 1 draws perturbations inside the training loop)
  const ex: RewardExample = {
    imageId: 1,
    imagePath: 'x.png',
    prompt: 'Two blue dogs in the forest.',
    category: 'combination',
    y: 1,
    labels: [1],
  };
  assert.notDeepEqual(perturbedTexts(ex, 8, 0, 0), perturbedTexts(ex, 8, 0, 1));
  // held-out prompts never become negatives; the draw still gives 8 distinct perturbations
  const first = perturbedTexts(ex, 8, 0, 0);
  const held = new Set(first.slice(0, 5));
  const avoided = perturbedTexts(ex, 8, 0, 0, held);
  assert.equal(avoided.length, 8);
  assert.equal(new Set(avoided).size, 8);
  for (const t of avoided) assert.ok(!held.has(t), `${t} is held out`);
  assert.deepEqual(avoided.slice(0, 3), first.slice(5));
});

function label(
  imageId: number,
  labelerId: number,
  value: 'good' | 'bad' | 'skip',
  prompt = 'Two dogs.',
): LabelInfo {
  return {
    id: imageId * 10 + labelerId,
    imageId,
    labelerId,
    value,
    createdAt: '',
    imagePath: `images/${imageId}.png`,
    promptId: 1,
    prompt,
    category: 'count',
    split: 'feedback',
    model: 'original',
    purpose: 'feedback',
    labeler: `l${labelerId}`,
    labelerKind: 'simulated',
  };
}

test("several labelers' labels are averaged; skips are left out; all-skip images have no target", () => {
  const ex = examplesFromLabels([
    label(2, 1, 'good'),
    label(1, 1, 'good'),
    label(1, 2, 'bad'),
    label(2, 2, 'good'),
    label(3, 1, 'skip'),
    label(3, 2, 'skip'),
    label(4, 1, 'skip'),
    label(4, 2, 'bad'),
  ]);
  assert.deepEqual(
    ex.map((e) => [e.imageId, e.y, e.labels]),
    [
      [1, 0.5, [1, 0]],
      [2, 1, [1, 1]],
      [3, null, []],
      [4, 0, [0]],
    ],
  );
  // accuracy counts each label: image 1 predicted good is right for one of its two labels
  const acc = labelAccuracy(ex, [0.9, 0.9, 0.9, 0.1]);
  assert.equal(acc.count, 4 / 5);
  assert.equal(acc.all, 4 / 5);
  assert.ok(Number.isNaN(acc.color));
});

test('the split is by prompt (no prompt on both sides), stratified, seeded; subsets keep the mix', () => {
  const examples: RewardExample[] = [];
  let id = 0;
  for (const fp of feedbackPrompts('quick')) {
    for (let k = 0; k < 2; k++)
      examples.push({
        imageId: id++,
        imagePath: `${id}.png`,
        prompt: fp.text,
        category: fp.category,
        y: 1,
        labels: [1],
      });
  }
  const a = splitByPrompt(examples, 0.2, 0);
  const b = splitByPrompt(examples, 0.2, 0);
  assert.deepEqual([...a.valPrompts].sort(), [...b.valPrompts].sort());
  const trainPrompts = new Set(a.train.map((e) => e.prompt));
  for (const e of a.val) assert.ok(!trainPrompts.has(e.prompt));
  assert.equal(a.train.length + a.val.length, examples.length);
  // quick: 54 count prompts -> 11 held out, 29 color -> 6, 20 background -> 4, 1264 combination -> 253
  const held = (c: string) => new Set(a.val.filter((e) => e.category === c).map((e) => e.prompt)).size;
  assert.deepEqual([held('count'), held('color'), held('background'), held('combination')], [11, 6, 4, 253]);
  assert.notDeepEqual([...splitByPrompt(examples, 0.2, 1).valPrompts].sort(), [...a.valPrompts].sort());
  // 5 folds: every prompt in one fold, each category's prompts spread evenly (quick: 54 count -> 10-11 each)
  const folds = promptFolds(examples, 5, 0);
  assert.equal(folds.size, new Set(examples.map((e) => e.prompt)).size);
  assert.deepEqual(promptFolds(examples, 5, 0), folds, 'seeded');
  for (const c of ['count', 'color', 'background', 'combination']) {
    const sizes = [0, 0, 0, 0, 0];
    for (const p of new Set(examples.filter((e) => e.category === c).map((e) => e.prompt)))
      sizes[folds.get(p)!]!++;
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${c}: ${sizes}`);
  }
  assert.throws(() => promptFolds(examples, 1, 0), /folds must be an integer >= 2/);
  // 5 folds by image: every image in one fold, each prompt's images spread over the folds
  const byImage = imageFolds(examples, 5, 0);
  assert.equal(byImage.size, examples.length);
  assert.deepEqual(imageFolds(examples, 5, 0), byImage, 'seeded');
  for (const p of new Set(examples.map((e) => e.prompt))) {
    const sizes = [0, 0, 0, 0, 0];
    for (const e of examples.filter((x) => x.prompt === p)) sizes[byImage.get(e.imageId)!]!++;
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${p}: ${sizes}`);
  }
  // single-image prompts (quick's combination) land in every fold, not all in one
  const singles = [0, 0, 0, 0, 0];
  const combos = examples.filter((x) => x.category === 'combination');
  for (const e of combos) singles[byImage.get(e.imageId)!]!++;
  assert.ok(Math.min(...singles) > 0.15 * combos.length, `${singles}`);
  assert.throws(() => imageFolds(examples, 1, 0), /folds must be an integer >= 2/);
  const tenth = subsampleExamples(a.train, 0.1, 0);
  assert.ok(Math.abs(tenth.length - 0.1 * a.train.length) <= 4, `${tenth.length} of ${a.train.length}`);
  assert.equal(new Set(tenth.map((e) => e.category)).size, 4);
});

test('the best single threshold maximises per-label accuracy on the training split', () => {
  const ex = (labels: number[]): RewardExample => ({
    imageId: 0,
    imagePath: '',
    prompt: '',
    category: 'color',
    y: null,
    labels,
  });
  const examples = [ex([0]), ex([0]), ex([1, 0]), ex([1]), ex([1])];
  const scores = [0.1, 0.2, 0.3, 0.4, 0.5];
  // thresholds between 0.2 and 0.3 or 0.3 and 0.4 both get 5 of 6 labels right; the lower one wins
  const best = bestThreshold(examples, scores);
  assert.equal(best.accuracy, 5 / 6);
  assert.ok(Math.abs(best.threshold - 0.25) < 1e-12);
  const th = categoryThresholds(examples, scores);
  assert.equal(labelAccuracy(examples, scores, th).color, 5 / 6);
});

// ---------------------------------------------------------------------------------------------
// A synthetic labeled set: text embeddings are fixed random unit vectors; a good image's embedding
// lies near its prompt's, a bad image's near a perturbation of its prompt (it shows something else).

const P = 16;

function unitVector(key: string): Float32Array {
  const rng = new Rng(hashSeed(0, 'text', key));
  const v = Float32Array.from({ length: P }, () => rng.normal());
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function syntheticTexts(): TextEmbeddings {
  return {
    store: new EmbeddingStore(P),
    embed: (texts) =>
      fromTypedArray(Float32Array.from(texts.flatMap((t) => [...unitVector(t)])), [texts.length, P]),
  };
}

function syntheticSet(seed: number): { examples: RewardExample[]; embeds: Float32Array } {
  const rng = new Rng(seed);
  const examples: RewardExample[] = [];
  const rows: number[] = [];
  let id = 0;
  for (const fp of feedbackPrompts('quick').filter((_, i) => i % 4 === 0)) {
    for (let k = 0; k < 2; k++) {
      const good = rng.bernoulli(0.5);
      const shown = good ? fp.text : formatPrompt(perturbPrompts(fp.prompt, 1, { seed: id })[0]!);
      const v = unitVector(shown).map((x) => x + 0.15 * rng.normal());
      const n = Math.hypot(...v);
      rows.push(...v.map((x) => x / n));
      examples.push({
        imageId: id++,
        imagePath: `${id}.png`,
        prompt: fp.text,
        category: fp.category,
        y: good ? 1 : 0,
        labels: [good ? 1 : 0],
      });
    }
  }
  return { examples, embeds: Float32Array.from(rows) };
}

test('the reward model learns on a synthetic labeled set: held-out accuracy rises, loss falls, beats CLIP-score chance', () => {
  const { examples, embeds } = syntheticSet(3);
  const split = splitByPrompt(examples, 0.25, 0);
  const index = new Map(examples.map((e, i) => [e.imageId, i]));
  const rowsOf = (exs: RewardExample[]): Tensor =>
    fromTypedArray(
      Float32Array.from(
        exs.flatMap((e) => [...embeds.subarray(index.get(e.imageId)! * P, (index.get(e.imageId)! + 1) * P)]),
      ),
      [exs.length, P],
    );
  const train = { examples: split.train, imageEmbeds: rowsOf(split.train) };
  const val = { examples: split.val, imageEmbeds: rowsOf(split.val) };
  const texts = syntheticTexts();
  const config = { hidden: 64, epochs: 25, batchSize: 32, lr: 3e-3, seed: 0 };
  const untrained = new RewardModel(
    { embed_dim: P, hidden: 64, features: 'concat' },
    { generator: new Generator(0) },
  );
  const before = labelAccuracy(val.examples, scoreExamples(untrained, val, texts)).all;
  const { model, history } = trainRewardModel({ train, val, texts, config });
  const after = labelAccuracy(val.examples, scoreExamples(model, val, texts)).all;
  const first = history[0]!;
  const last = history[history.length - 1]!;
  process.stderr.write(
    `# synthetic reward: ${train.examples.length} train / ${val.examples.length} val images; held-out accuracy ${before.toFixed(3)} -> ${after.toFixed(3)}; ` +
      `train loss ${first.train.loss.toFixed(3)} -> ${last.train.loss.toFixed(3)} (mse ${last.train.mse.toFixed(3)}, pc ${last.train.pc.toFixed(3)})\n`,
  );
  assert.equal(history.length, 25);
  assert.ok(
    last.val !== null && Math.abs(last.val.accuracy.all - after) < 1e-9,
    'logged validation accuracy is the held-out accuracy',
  );
  assert.ok(after >= 0.8, `held-out accuracy ${after}`);
  assert.ok(after > before + 0.2, `accuracy ${before} -> ${after}`);
  assert.ok(last.train.loss < 0.5 * first.train.loss, `train loss ${first.train.loss} -> ${last.train.loss}`);
  assert.ok(last.train.pc < first.train.pc && last.train.mse < first.train.mse);
  for (const k of ['min', 'mean', 'max'] as const) assert.ok(Number.isFinite(last.val!.reward[k]));
  // in this synthetic set the cosine is informative too; its training-split threshold must transfer
  const th = categoryThresholds(train.examples, clipScores(train, texts));
  assert.ok(labelAccuracy(val.examples, clipScores(val, texts), th).all > 0.7);
  // no tensors leak from an epoch of training
  const live = liveTensors();
  trainRewardModel({ train, val, texts, config: { ...config, epochs: 1 } }).model.dispose();
  assert.ok(liveTensors() - live <= 1, `live tensors ${live} -> ${liveTensors()}`);
  model.dispose();
  untrained.dispose();
});

test("the MLP's input per feature mode: [e_x; e_z], + e_x * e_z, + cos(e_x, e_z)", () => {
  const x = tensor([
    [0.6, 0.8, 0],
    [1, 0, 0],
  ]);
  const z = tensor([
    [0, 1, 0],
    [0.6, 0, 0.8],
  ]);
  const expect: Record<RewardFeatures, number[][]> = {
    concat: [
      [0.6, 0.8, 0, 0, 1, 0],
      [1, 0, 0, 0.6, 0, 0.8],
    ],
    concat_product: [
      [0.6, 0.8, 0, 0, 1, 0, 0, 0.8, 0],
      [1, 0, 0, 0.6, 0, 0.8, 0.6, 0, 0],
    ],
    // the cosines of the two rows, by hand: 0.8 and 0.6
    concat_cos: [
      [0.6, 0.8, 0, 0, 1, 0, 0.8],
      [1, 0, 0, 0.6, 0, 0.8, 0.6],
    ],
  };
  for (const features of REWARD_FEATURES) {
    const m = new RewardModel({ embed_dim: 3, hidden: 4, features }, { generator: new Generator(0) });
    const f = m.features(x, z);
    assert.deepEqual(f.shape, [2, rewardInputDim({ embed_dim: 3, hidden: 4, features })], features);
    const got = [...f.toFloat32Array()];
    expect[features].flat().forEach((v, i) => {
      assert.ok(Math.abs(got[i]! - v) < 1e-6, `${features}[${i}]: ${got[i]} vs ${v}`);
    });
    assert.deepEqual(m.forward(x, z).shape, [2]);
    f.dispose();
    m.dispose();
  }
  x.dispose();
  z.dispose();
});
