/**
 * Reward-weighted fine-tuning on tiny seeded models: the loss against the plain denoising loss,
 * "training learns" (weights move, the weighted loss falls), exact resumption, the batch order.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { finetune, type ModelSampleSource, modelBatchIndices } from '../../src/finetune/finetune.js';
import { rewardWeightedLoss } from '../../src/finetune/reward_weighted_loss.js';
import { worldCorpusPairs } from '../../src/finetune/run_finetune.js';
import { denoisingLoss, drawDenoising } from '../../src/models/denoising_loss.js';
import { imagesToTensor } from '../../src/models/images.js';
import { DDPMScheduler, WORLD_SCHEDULER_CONFIG } from '../../src/models/scheduler_ddpm.js';
import { type LoadedPipeline, loadPipeline } from '../../src/models/t2i_checkpoint.js';
import { UNet2DConditionModel } from '../../src/models/unet.js';
import {
  cat,
  Generator,
  noGrad,
  ones,
  rand,
  randn,
  setNumThreads,
  tensor,
  tidy,
} from '../../src/torch/index.js';
import { DEFAULT_NOISE } from '../../src/world/corpus.js';
import { TINY_UNET_16, tempDir, tinyCheckpoints } from './fixtures.js';

// tiny models: one thread avoids OpenMP's per-op overhead on a shared 2-core machine
setNumThreads(1);

const scheduler = new DDPMScheduler(WORLD_SCHEDULER_CONFIG);

test('with all rewards = 1 and beta = 0 the reward-weighted loss is the plain denoising loss', () => {
  tidy(() => {
    const unet = tidy(() => new UNet2DConditionModel(TINY_UNET_16, { generator: new Generator(3) }));
    const g = new Generator(5);
    const x0 = rand([6, 3, 8, 8], { generator: g }).mul(2).sub(1);
    const context = randn([6, 5, 16], { generator: g });
    const draw = drawDenoising(scheduler, x0, new Generator(9));
    const plain = denoisingLoss(unet, scheduler, x0, context, { draw }).mean().item();
    const weighted = rewardWeightedLoss(unet, scheduler, { x0, context, weights: ones([6]) }, null, 0, {
      draw,
    });
    assert.ok(Math.abs(weighted.loss.item() - plain) < 1e-7, `${weighted.loss.item()} vs ${plain}`);
    assert.equal(weighted.preTerm.item(), 0);
    // beta = 0 ignores a D_pre batch altogether
    const pre = {
      x0: rand([2, 3, 8, 8], { generator: g }).mul(2).sub(1),
      context: randn([2, 5, 16], { generator: g }),
    };
    assert.ok(
      Math.abs(
        rewardWeightedLoss(unet, scheduler, { x0, context, weights: ones([6]) }, pre, 0, {
          draw,
        }).loss.item() - plain,
      ) < 1e-7,
    );
    unet.dispose();
  });
});

test('with rewards and beta > 0 it is mean(r l) over D_model plus beta mean(l) over D_pre', () => {
  tidy(() => {
    const unet = tidy(() => new UNet2DConditionModel(TINY_UNET_16, { generator: new Generator(3) }));
    const g = new Generator(6);
    const model = {
      x0: rand([4, 3, 8, 8], { generator: g }).mul(2).sub(1),
      context: randn([4, 5, 16], { generator: g }),
      weights: tensor([1, 0.5, 0, 0.25]),
    };
    const pre = {
      x0: rand([3, 3, 8, 8], { generator: g }).mul(2).sub(1),
      context: randn([3, 5, 16], { generator: g }),
    };
    const draw = drawDenoising(scheduler, cat([model.x0, pre.x0], 0), new Generator(10));
    const l = denoisingLoss(
      unet,
      scheduler,
      cat([model.x0, pre.x0], 0),
      cat([model.context, pre.context], 0),
      { draw },
    ).toArray();
    const byHand =
      (1 * l[0]! + 0.5 * l[1]! + 0 * l[2]! + 0.25 * l[3]!) / 4 + 0.7 * ((l[4]! + l[5]! + l[6]!) / 3);
    const got = rewardWeightedLoss(unet, scheduler, model, pre, 0.7, { draw });
    assert.ok(Math.abs(got.loss.item() - byHand) < 1e-6, `${got.loss.item()} vs ${byHand}`);
    assert.deepEqual(got.modelLosses.shape, [4]);
    unet.dispose();
  });
});

test('D_model batches walk seeded per-epoch permutations: every image once per epoch', () => {
  const cache = new Map<number, number[]>();
  const seen = [0, 1, 2].flatMap((step) => modelBatchIndices(10, 5, step, 0, cache));
  assert.deepEqual(
    [...seen.slice(0, 10)].sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.notDeepEqual(seen.slice(0, 5), seen.slice(10, 15));
  assert.deepEqual(modelBatchIndices(10, 5, 2, 0), seen.slice(10, 15), 'a pure function of (seed, step)');
});

// ---------------------------------------------------------------------------------------------
// The loop, on a tiny original model and corpus renders at 8x8

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

/** D_model: 8 corpus renders (stand-ins for model samples) with rewards 1, 0.75, ..., 0.125. */
function dModel(): ModelSampleSource & {
  all: { images: ReturnType<ModelSampleSource['get']>['images']; prompts: string[]; weights: number[] };
} {
  const pairs = worldCorpusPairs({ size: 8, seed: 42 }).batch(0, 8);
  const prompts = [
    'Two dogs.',
    'A red colored cat.',
    'A cake on the moon.',
    'Three blue cups in the sea.',
    'One tree.',
    'A green colored car.',
    'A dog in the forest.',
    'Four apples.',
  ];
  const weights = prompts.map((_, i) => 1 - i / 8);
  return {
    size: 8,
    all: { images: pairs.images, prompts, weights },
    get: (idx) => ({
      images: idx.map((i) => pairs.images[i]!),
      prompts: idx.map((i) => prompts[i]!),
      weights: idx.map((i) => weights[i]!),
    }),
  };
}

/** The weighted loss of the whole D_model under fixed noise draws (mean over 4 draws). */
function evalLoss(unet: UNet2DConditionModel, data: ReturnType<typeof dModel>): number {
  return noGrad(() =>
    tidy(() => {
      const x0 = imagesToTensor(data.all.images).mul(2).sub(1);
      const context = base.textEncoder.encode(data.all.prompts);
      let s = 0;
      for (let k = 0; k < 4; k++) {
        const draw = drawDenoising(scheduler, x0, new Generator(100 + k));
        s += rewardWeightedLoss(
          unet,
          scheduler,
          { x0, context, weights: tensor(data.all.weights) },
          null,
          0,
          { draw },
        ).loss.item();
      }
      return s / 4;
    }),
  );
}

function maxDiff(a: UNet2DConditionModel, b: UNet2DConditionModel): number {
  const sb = b.stateDict();
  let m = 0;
  for (const [k, t] of Object.entries(a.stateDict()))
    m = Math.max(
      m,
      tidy(() => t.sub(sb[k]!).abs().amax().item()),
    );
  return m;
}

test("D_pre follows the pretraining run's caption noise", () => {
  const stated = worldCorpusPairs({ size: 8, seed: 3, noise: { ...DEFAULT_NOISE, countMentionProb: 1 } });
  const never = worldCorpusPairs({ size: 8, seed: 3, noise: { ...DEFAULT_NOISE, countMentionProb: 0 } });
  const numberWord = /\b(one|two|three|four|five|six)\b/i;
  const a = stated.batch(0, 32).captions;
  const b = never.batch(0, 32).captions;
  assert.ok(a.filter((c) => numberWord.test(c)).length > 8, a.join(' | '));
  assert.equal(b.filter((c) => numberWord.test(c)).length, 0, b.join(' | '));
  // the same scenes: only the captions differ
  assert.deepEqual(stated.batch(0, 4).images[0], never.batch(0, 4).images[0]);
});

/** What every finetune() call here shares: the tiny original, its scheduler and text encoder, and the data. */
function finetuneInputs(model: ModelSampleSource, pre: ReturnType<typeof worldCorpusPairs> | null) {
  return {
    init: base.unet,
    schedulerConfig: WORLD_SCHEDULER_CONFIG,
    textEncoder: base.textEncoder,
    model,
    pre,
  };
}

test('a few fine-tuning steps move the weights and lower the weighted loss', async () => {
  const data = dModel();
  const lossBefore = evalLoss(base.unet, data);
  const { unet, step, done } = await finetune({
    ...finetuneInputs(data, null),
    workDir: join(dir, 'learn'),
    config: {
      steps: 12,
      batchModel: 8,
      beta: 0,
      lr: 2e-3,
      warmupSteps: 0,
      emaDecay: 0,
      uncondProb: 0,
      logEvery: 4,
    },
  });
  const lossAfter = evalLoss(unet, data);
  const moved = maxDiff(unet, base.unet);
  process.stderr.write(
    `# finetune: 12 steps, weighted loss ${lossBefore.toFixed(4)} -> ${lossAfter.toFixed(4)}, max weight change ${moved.toExponential(2)}\n`,
  );
  assert.equal(step, 12);
  assert.ok(done);
  assert.ok(moved > 1e-3, `weights moved by ${moved}`);
  assert.ok(lossAfter < 0.9 * lossBefore, `weighted loss ${lossBefore} -> ${lossAfter}`);
  assert.equal(
    maxDiff(base.unet, loadPipeline(join(dir, 'base')).unet),
    0,
    'the original model is left as it was',
  );
  unet.dispose();
});

test('an interrupted fine-tuning run continues where it stopped and ends with the same weights', async () => {
  const data = dModel();
  const pre = worldCorpusPairs({ size: 8 });
  const config = {
    steps: 4,
    batchModel: 4,
    batchPre: 2,
    beta: 0.5,
    lr: 1e-3,
    warmupSteps: 1,
    emaDecay: 0.9,
    saveEvery: 100,
    logEvery: 1,
  };
  const common = { ...finetuneInputs(data, pre), config };
  const whole = await finetune({ ...common, workDir: join(dir, 'whole') });
  const first = await finetune({ ...common, workDir: join(dir, 'parts'), maxStepsThisCall: 2 });
  assert.equal(first.step, 2);
  assert.equal(first.done, false);
  first.unet.dispose();
  // a new process would start from the folder alone: nothing but the work folder carries over
  const second = await finetune({ ...common, workDir: join(dir, 'parts') });
  assert.equal(second.step, 4);
  assert.ok(second.done);
  const d = maxDiff(whole.unet, second.unet);
  assert.ok(d < 1e-6, `resumed weights differ by ${d}`);
  // another setting in the same folder is refused
  await assert.rejects(
    finetune({ ...common, config: { ...config, lr: 5e-4 }, workDir: join(dir, 'parts') }),
    /other settings \(lr\)/,
  );
  whole.unet.dispose();
  second.unet.dispose();
});

test('the saved EMA starts at the original weights with the full decay from step 0 (no warm-up ramp)', async () => {
  const data = dModel();
  const pre = worldCorpusPairs({ size: 8 });
  const config = { steps: 2, batchModel: 4, batchPre: 2, beta: 0.5, lr: 1e-2, warmupSteps: 0, logEvery: 1 };
  const common = finetuneInputs(data, pre);
  // raw weights after one and two steps (same seed, same batches)
  const raw1 = await finetune({
    ...common,
    config: { ...config, steps: 1, emaDecay: 0 },
    workDir: join(dir, 'raw1'),
  });
  const raw2 = await finetune({ ...common, config: { ...config, emaDecay: 0 }, workDir: join(dir, 'raw2') });
  const ema = await finetune({ ...common, config: { ...config, emaDecay: 0.75 }, workDir: join(dir, 'ema') });
  assert.ok(maxDiff(raw2.unet, base.unet) > 1e-3, 'the steps moved the weights');
  // EMA_2 = 0.75 (0.75 w0 + 0.25 w1) + 0.25 w2
  const want = raw2.unet.stateDict();
  const w0 = base.unet.stateDict();
  const w1 = raw1.unet.stateDict();
  let m = 0;
  for (const [k, t] of Object.entries(ema.unet.stateDict())) {
    m = Math.max(
      m,
      tidy(() =>
        t
          .sub(w0[k]!.mul(0.5625).add(w1[k]!.mul(0.1875)).add(want[k]!.mul(0.25)))
          .abs()
          .amax()
          .item(),
      ),
    );
  }
  assert.ok(m < 1e-5, `EMA differs from the constant-decay average by ${m}`);
  for (const r of [raw1, raw2, ema]) r.unet.dispose();
});
