/**
 * CLIP: Hugging Face naming, shapes, determinism, a PyTorch golden, learning, exact resume, checkpoint
 * folders (fp16 round trip, errors naming a missing or mis-shaped tensor) and the evaluation helpers.
 *
 * Golden provenance: test/models/golden/clip_tiny.json is written by make_clip_golden.py (beside it), an
 * independent torch re-implementation of transformers' CLIPModel forward, run with Debian's PyTorch 1.13.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CheckpointError,
  loadCheckpoint,
  loadIntoModule,
  readCheckpointConfig,
  saveCheckpoint,
} from '../../src/models/checkpoint.js';
import {
  type CLIPConfig,
  CLIPModel,
  clipCheckpointConfig,
  clipConfig,
  loadCLIPModel,
  loadCLIPTextModel,
} from '../../src/models/clip.js';
import {
  bestThresholdAccuracy,
  clipCountCorrectness,
  clipRetrieval,
  rocAuc,
} from '../../src/models/clip_eval.js';
import {
  type CLIPTrainConfig,
  contrastiveLoss,
  isTextTower,
  trainCLIP,
} from '../../src/models/clip_train.js';
import type { PairSource } from '../../src/models/diffusion_train.js';
import { imagesToTensor } from '../../src/models/images.js';
import { VOCAB_FILE, worldTokenizer } from '../../src/models/tokenizer.js';
import {
  arange,
  dispose,
  F,
  Generator,
  loadSafetensors,
  noGrad,
  optim,
  rand,
  readSafetensorsHeader,
  type Tensor,
  tensor,
  tidy,
} from '../../src/torch/index.js';
import { formatPrompt, type Prompt } from '../../src/world/prompt.js';
import { render } from '../../src/world/render.js';
import { COLORS, OBJECTS } from '../../src/world/vocab.js';
import { assertClose, decode, type Encoded } from '../torch/helpers.js';

const tok = worldTokenizer();

/** A tiny CLIP over the world vocabulary: 16x16 images in 4x4 patches, 32 wide, 2 layers. */
function tinyConfig(): CLIPConfig {
  const tower = { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2 };
  return clipConfig({
    text_config: {
      ...tower,
      vocab_size: tok.vocabSize,
      bos_token_id: tok.bosTokenId,
      eos_token_id: tok.eosTokenId,
      pad_token_id: tok.padTokenId,
    },
    vision_config: { ...tower, image_size: 16, patch_size: 4 },
    projection_dim: 16,
  });
}

const tmp = mkdtempSync(join(tmpdir(), 't2i-clip-'));

test('parameter names are Hugging Face CLIPModel names', () => {
  const clip = new CLIPModel(tinyConfig(), new Generator(0));
  const keys = Object.keys(clip.stateDict());
  for (const k of [
    'text_model.embeddings.token_embedding.weight',
    'text_model.embeddings.position_embedding.weight',
    'text_model.encoder.layers.1.self_attn.q_proj.weight',
    'text_model.encoder.layers.0.self_attn.out_proj.bias',
    'text_model.encoder.layers.0.layer_norm1.weight',
    'text_model.encoder.layers.0.mlp.fc1.weight',
    'text_model.encoder.layers.0.mlp.fc2.bias',
    'text_model.encoder.layers.0.layer_norm2.bias',
    'text_model.final_layer_norm.weight',
    'vision_model.embeddings.class_embedding',
    'vision_model.embeddings.patch_embedding.weight',
    'vision_model.embeddings.position_embedding.weight',
    'vision_model.pre_layrnorm.weight',
    'vision_model.encoder.layers.1.self_attn.k_proj.bias',
    'vision_model.post_layernorm.bias',
    'text_projection.weight',
    'visual_projection.weight',
    'logit_scale',
  ]) {
    assert.ok(keys.includes(k), `missing ${k}`);
  }
  // non-persistent buffers (transformers >= 4.31) and projection biases are absent
  assert.ok(
    !keys.some(
      (k) =>
        k.endsWith('position_ids') ||
        k.endsWith('projection.bias') ||
        k === 'vision_model.embeddings.patch_embedding.bias',
    ),
  );
  const sd = clip.stateDict();
  assert.deepEqual(sd['text_model.embeddings.position_embedding.weight']!.shape, [77, 32]);
  assert.deepEqual(sd['vision_model.embeddings.position_embedding.weight']!.shape, [17, 32]);
  assert.deepEqual(sd['vision_model.embeddings.patch_embedding.weight']!.shape, [32, 3, 4, 4]);
  assert.deepEqual(sd['logit_scale']!.shape, []);
  assert.ok(Math.abs(sd['logit_scale']!.item() - 2.6592) < 1e-6);
  clip.dispose();
});

test('shapes of every output; text outputs do not depend on the padding after the end token', () => {
  const clip = new CLIPModel(tinyConfig(), new Generator(0)).eval();
  tidy(() => {
    const texts = ['Two blue dogs in the forest.', 'A cup.', 'photo of some red cars'];
    const ids77 = tok.encodeBatch(texts);
    const idsShort = tok.encodeBatch(texts, { length: 'longest' });
    const pixels = rand([3, 3, 16, 16], { generator: new Generator(1) });
    const t = clip.encodeText(ids77);
    assert.deepEqual(t.lastHiddenState.shape, [3, 77, 32]);
    assert.deepEqual(t.pooled.shape, [3, 32]);
    assert.deepEqual(t.textEmbeds.shape, [3, 16]);
    const s = clip.encodeText(idsShort);
    assert.deepEqual(s.lastHiddenState.shape, [3, 9, 32]);
    // causal mask + pooling at the end token: cutting the padding changes nothing up to it
    assertClose(s.pooled, t.pooled.toArray(), { atol: 1e-5 }, 'pooled');
    assertClose(
      s.lastHiddenState,
      t.lastHiddenState.slice(1, 0, 9).contiguous().toArray(),
      { atol: 1e-5 },
      'hidden',
    );
    const v = clip.encodeImage(pixels);
    assert.deepEqual(v.imageEmbeds.shape, [3, 16]);
    assert.deepEqual(v.lastHiddenState.shape, [3, 17, 32]);
    assert.deepEqual(v.pooled.shape, [3, 32]);
    const { logitsPerImage, logitsPerText } = clip.forward(pixels, idsShort);
    assert.deepEqual(logitsPerImage.shape, [3, 3]);
    assert.deepEqual(logitsPerText.shape, [3, 3]);
    const score = clip.clipScore(pixels, idsShort);
    assert.deepEqual(score.shape, [3]);
    // clipScore is the diagonal of the logits divided by the scale
    const diag = logitsPerImage
      .toArray()
      .filter((_, i) => i % 4 === 0)
      .map((x) => x / Math.exp(2.6592));
    assertClose(score, diag, { atol: 1e-5 }, 'clipScore');
    assert.ok(score.toArray().every((x) => x >= -1 && x <= 1));
  });
  clip.dispose();
});

test('input errors are clear', () => {
  const clip = new CLIPModel(tinyConfig(), new Generator(0)).eval();
  tidy(() => {
    assert.throws(() => clip.encodeImage(rand([1, 3, 32, 32])), /expected 16x16 pixels, got 32x32/);
    assert.deepEqual(clip.encodeImage(rand([1, 3, 32, 32]), { resize: true }).imageEmbeds.shape, [1, 16]);
    assert.throws(() => clip.encodeImage(rand([1, 1, 16, 16])), /expected pixels \[B, 3, H, W\]/);
    const cut = tok.encodeBatch(['Two blue dogs in the forest.']).slice(1, 0, 4);
    assert.throws(() => clip.encodeText(cut), /no end-of-text token/);
    assert.throws(
      () => clip.encodeText(tensor([Array(78).fill(tok.eosTokenId)], { dtype: 'int64' })),
      /outside 1\.\.77/,
    );
  });
  assert.throws(
    () => clipConfig({ text_config: { hidden_size: 30, num_attention_heads: 4 } }),
    /text_config: hidden_size 30 is not divisible by num_attention_heads 4/,
  );
  assert.throws(() => clipConfig({ vision_config: { hidden_act: 'relu' } }), /unknown activation "relu"/);
  assert.throws(
    () => clipConfig({ vision_config: { image_size: 30, patch_size: 4 } }),
    /not a multiple of patch_size/,
  );
  clip.dispose();
});

test('determinism: the same seed builds the same model and outputs; another seed does not', () => {
  const a = new CLIPModel(tinyConfig(), new Generator(7)).eval();
  const b = new CLIPModel(tinyConfig(), new Generator(7)).eval();
  const c = new CLIPModel(tinyConfig(), new Generator(8)).eval();
  tidy(() => {
    const ids = tok.encodeBatch(['A red colored dog.', 'Three cakes on the table.'], { length: 'longest' });
    const pixels = rand([2, 3, 16, 16], { generator: new Generator(3) });
    const ya = a.forward(pixels, ids).logitsPerImage.toArray();
    assert.deepEqual(b.forward(pixels, ids).logitsPerImage.toArray(), ya);
    assert.notDeepEqual(c.forward(pixels, ids).logitsPerImage.toArray(), ya);
    const sa = a.stateDict();
    for (const [k, t] of Object.entries(b.stateDict())) assert.deepEqual(t.toArray(), sa[k]!.toArray(), k);
  });
  for (const m of [a, b, c]) m.dispose();
});

test('matches the PyTorch reference forward (golden, 1e-5)', () => {
  const g = JSON.parse(readFileSync(new URL('./golden/clip_tiny.json', import.meta.url), 'utf8')) as {
    config: unknown;
    weights: Record<string, Encoded>;
    inputs: Record<string, Encoded>;
    outputs: Record<string, Encoded>;
  };
  const clip = new CLIPModel(clipConfig(g.config)).eval();
  tidy(() => {
    clip.loadStateDict(Object.fromEntries(Object.entries(g.weights).map(([k, v]) => [k, decode(v)])));
    const ids = decode(g.inputs['input_ids']!);
    const pixels = decode(g.inputs['pixel_values']!);
    const o = g.outputs;
    const t = clip.encodeText(ids);
    const v = clip.encodeImage(pixels);
    const tol = { atol: 1e-5, rtol: 1e-4 };
    assertClose(t.lastHiddenState, o['text_last_hidden_state']!, tol, 'text last_hidden_state');
    assertClose(t.pooled, o['text_pooled']!, tol, 'text pooled');
    assertClose(t.textEmbeds, o['text_embeds']!, tol, 'text_embeds');
    assertClose(v.lastHiddenState, o['vision_last_hidden_state']!, tol, 'vision last_hidden_state');
    assertClose(v.pooled, o['vision_pooled']!, tol, 'vision pooled');
    assertClose(v.imageEmbeds, o['image_embeds']!, tol, 'image_embeds');
    assertClose(
      clip.forward(pixels, ids).logitsPerImage,
      o['logits_per_image']!,
      { atol: 1e-4, rtol: 1e-4 },
      'logits_per_image',
    );
  });
  clip.dispose();
});

/** 16 distinct (render, caption) pairs at 16x16: 8 objects x 2 colors. */
function tinySet(): { pixels: Tensor; captions: string[] } {
  const prompts: Prompt[] = [];
  for (const object of OBJECTS.slice(0, 8))
    for (const color of COLORS.slice(0, 2)) prompts.push({ object, color });
  const images = prompts.map((p, i) => render(p, i, 16));
  return { pixels: imagesToTensor(images), captions: prompts.map(formatPrompt) };
}

test('contrastive loss: duplicate-aware targets reduce to CLIP loss for distinct captions', () => {
  tidy(() => {
    const logits = rand([4, 4], { generator: new Generator(2) }).mul(5);
    const lab = arange(0, 4, 1, { dtype: 'int64' });
    const plain = F.crossEntropy(logits, lab).add(F.crossEntropy(logits.T, lab)).div(2).item();
    assert.ok(Math.abs(contrastiveLoss(logits, ['a', 'b', 'c', 'd']).loss.item() - plain) < 1e-5);
    assert.ok(Math.abs(contrastiveLoss(logits).loss.item() - plain) < 1e-5);
    // identical captions 0 and 1 share one target: rows 0-1 put half the target mass on each of them
    const L = logits.toArray();
    const logSoftmaxRows = (m: number[]) =>
      [0, 1, 2, 3].map((i) => {
        const row = m.slice(4 * i, 4 * i + 4);
        const lse = Math.log(row.reduce((a, x) => a + Math.exp(x), 0));
        return row.map((x) => x - lse);
      });
    const T = [
      [0.5, 0.5, 0, 0],
      [0.5, 0.5, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ];
    const ce = (m: number[]) =>
      -logSoftmaxRows(m).reduce((acc, row, i) => acc + row.reduce((a, x, j) => a + T[i]![j]! * x, 0), 0) / 4;
    const Lt = [0, 1, 2, 3].flatMap((i) => [0, 1, 2, 3].map((j) => L[4 * j + i]!));
    const dup = contrastiveLoss(logits, ['a', 'a', 'c', 'd']);
    assert.ok(Math.abs(dup.imageToText.item() - ce(L)) < 1e-5);
    assert.ok(Math.abs(dup.textToImage.item() - ce(Lt)) < 1e-5);
    assert.ok(Math.abs(dup.loss.item() - (ce(L) + ce(Lt)) / 2) < 1e-5);
  });
});

test('the model learns: contrastive loss on a tiny set falls by half, weights move', () => {
  const clip = new CLIPModel(tinyConfig(), new Generator(0));
  const { pixels, captions } = tinySet();
  const ids = tok.encodeBatch(captions, { length: 'longest' });
  const w0 = clip.vision_model.embeddings.patch_embedding.weight.clone();
  const opt = new optim.AdamW(clip.parameters(), { lr: 2e-3, weightDecay: 0 });
  const losses: number[] = [];
  for (let i = 0; i < 40; i++) {
    losses.push(
      tidy(() => {
        opt.zeroGrad();
        const { loss } = contrastiveLoss(clip.forward(pixels, ids).logitsPerImage, captions);
        loss.backward();
        opt.step();
        return loss.item();
      }),
    );
  }
  assert.ok(losses.at(-1)! < losses[0]! / 2, `loss ${losses[0]} -> ${losses.at(-1)}`);
  assert.ok(
    tidy(() => clip.vision_model.embeddings.patch_embedding.weight.sub(w0).abs().amax().item()) > 1e-3,
  );
  dispose([pixels, ids, w0]);
  opt.dispose();
  clip.dispose();
});

function resumeFixture(): { source: PairSource; train: CLIPTrainConfig } {
  const pool: Prompt[] = [];
  for (const object of OBJECTS.slice(0, 8))
    for (const color of COLORS.slice(0, 4)) pool.push({ object, color });
  const source: PairSource = {
    batch(index, size) {
      const ps = Array.from({ length: size }, (_, i) => pool[(index * 7 + i * 3) % pool.length]!);
      return { images: ps.map((p, i) => render(p, index * size + i, 16)), captions: ps.map(formatPrompt) };
    },
  };
  const train = {
    steps: 6,
    batchSize: 8,
    lr: 1e-3,
    warmupSteps: 2,
    weightDecay: 0.1,
    betas: [0.9, 0.98] as [number, number],
    logitScaleLrMult: 10,
    maxGradNorm: 1,
    textLength: 'longest' as const,
    seed: 5,
    logEvery: 1,
    saveEvery: 100,
    evalEvery: 0,
    device: 'cpu',
  };
  return { source, train };
}

test('training resumes exactly: 3 steps + resume to 6 equals 6 straight steps', async () => {
  const { source, train } = resumeFixture();
  const common = { source, tokenizer: tok, train, clip: tinyConfig(), evalImages: 0 };
  const straight = join(tmp, 'straight');
  const split = join(tmp, 'split');
  (await trainCLIP(straight, common)).model.dispose();
  let steps = 0;
  const first = await trainCLIP(split, { ...common, shouldStop: () => steps++ >= 3 });
  assert.equal(first.stopped, true);
  assert.equal(first.step, 3);
  first.model.dispose();
  const second = await trainCLIP(split, { ...common, resume: true });
  assert.equal(second.step, 6);
  second.model.dispose();
  const a = loadSafetensors(join(straight, 'resume', 'model.safetensors')).tensors;
  const b = loadSafetensors(join(split, 'resume', 'model.safetensors')).tensors;
  for (const [k, t] of Object.entries(a)) assert.deepEqual(b[k]!.toArray(), t.toArray(), k);
  const logged = readFileSync(join(split, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss: number });
  assert.deepEqual(
    logged.map((l) => l.step),
    [1, 2, 3, 4, 5, 6],
  );
  dispose([Object.values(a), Object.values(b)]);
  // the shipped checkpoint is fp16 with its vocabulary, and loads
  assert.equal(
    readSafetensorsHeader(join(split, 'model.safetensors')).tensors['logit_scale']!.dtype,
    'float16',
  );
  assert.equal(readCheckpointConfig(split).class, 'CLIPModel');
  loadCLIPModel(split).dispose();
  await assert.rejects(trainCLIP(join(tmp, 'nothing'), { ...common, resume: true }), /nothing to resume/);
  await assert.rejects(
    trainCLIP(split, { ...common, train: { ...train, batchSize: 4 }, resume: true }),
    /same batchSize/,
  );
});

test('--init with a frozen text tower: text weights stay bit-identical, the image tower moves', async () => {
  const { source, train } = resumeFixture();
  const common = { source, tokenizer: tok, train, clip: tinyConfig(), evalImages: 0 };
  const base = join(tmp, 'init-base');
  (await trainCLIP(base, common)).model.dispose();
  const tuned = join(tmp, 'init-tuned');
  (await trainCLIP(tuned, { ...common, init: base, freezeText: true })).model.dispose();
  const a = loadSafetensors(join(base, 'model.safetensors')).tensors;
  const b = loadSafetensors(join(tuned, 'model.safetensors')).tensors;
  let moved = 0;
  for (const [k, t] of Object.entries(a)) {
    if (isTextTower(k)) assert.deepEqual(b[k]!.toArray(), t.toArray(), k);
    else if (k.startsWith('vision_model.') && !equalArrays(b[k]!.toArray(), t.toArray())) moved++;
  }
  assert.ok(moved > 10, `image-tower tensors moved: ${moved}`);
  dispose([Object.values(a), Object.values(b)]);
  // a resume must keep the run's init and freezing
  await assert.rejects(
    trainCLIP(tuned, { ...common, train: { ...train, steps: 8 }, init: base, resume: true }),
    /same --init and --freeze-text/,
  );
  // the init must be a CLIP of the same shape
  const other = clipConfig({ ...tinyConfig(), projection_dim: 8 });
  await assert.rejects(
    trainCLIP(join(tmp, 'init-bad'), { ...common, clip: other, init: base }),
    /CLIP config differs/,
  );
});

function equalArrays(x: unknown, y: unknown): boolean {
  return JSON.stringify(x) === JSON.stringify(y);
}

test('checkpoint folders: fp32 exact and fp16 close round trips; the text tower loads alone', () => {
  const cfg = tinyConfig();
  const clip = new CLIPModel(cfg, new Generator(0)).eval();
  const dir32 = join(tmp, 'ckpt32');
  const dir16 = join(tmp, 'ckpt16');
  saveCheckpoint(dir32, {
    config: clipCheckpointConfig(cfg),
    module: clip,
    files: { [VOCAB_FILE]: tok.vocabJson() },
  });
  saveCheckpoint(dir16, { config: clipCheckpointConfig(cfg), module: clip, dtype: 'float16' });
  assert.equal(
    readSafetensorsHeader(join(dir16, 'model.safetensors')).tensors['text_projection.weight']!.dtype,
    'float16',
  );
  const back32 = loadCLIPModel(dir32);
  const back16 = loadCLIPModel(dir16);
  const text = loadCLIPTextModel(dir32);
  assert.deepEqual(back32.config, cfg);
  assert.ok(Object.keys(text.stateDict()).every((k) => k.startsWith('text_model.')));
  tidy(() => {
    const ids = tok.encodeBatch(['Two dogs.', 'A green colored apple on the moon.']);
    const pixels = rand([2, 3, 16, 16], { generator: new Generator(4) });
    const ref = clip.forward(pixels, ids).logitsPerImage.toArray();
    assert.deepEqual(back32.forward(pixels, ids).logitsPerImage.toArray(), ref);
    assertClose(back16.forward(pixels, ids).logitsPerImage, ref, { atol: 0.05, rtol: 0.01 }, 'fp16 logits');
    assert.equal(back16.logit_scale.dtype, 'float32');
    assert.deepEqual(
      text.forward(ids).lastHiddenState.toArray(),
      clip.encodeText(ids).lastHiddenState.toArray(),
    );
  });
  for (const m of [clip, back32, back16, text]) m.dispose();
});

test('a missing or mis-shaped tensor is a CheckpointError that names it; stale position_ids are ignored', () => {
  const cfg = tinyConfig();
  const clip = new CLIPModel(cfg, new Generator(0));
  const sd = clip.stateDict();
  const missing = join(tmp, 'missing');
  const { 'text_model.final_layer_norm.weight': _dropped, ...rest } = sd;
  saveCheckpoint(missing, { config: clipCheckpointConfig(cfg), tensors: rest });
  assert.throws(
    () => loadCLIPModel(missing),
    (e: unknown) =>
      e instanceof CheckpointError &&
      e.message.includes(missing) &&
      /missing keys: text_model\.final_layer_norm\.weight/.test(e.message),
  );
  const bad = join(tmp, 'mismatched');
  tidy(() => {
    saveCheckpoint(bad, {
      config: clipCheckpointConfig(cfg),
      tensors: { ...sd, 'visual_projection.weight': rand([16, 33]) },
    });
  });
  assert.throws(
    () => loadCLIPModel(bad),
    /shape mismatches: visual_projection\.weight \(expected \[16,32\], got \[16,33\]\)/,
  );
  // old transformers checkpoints carry position_ids buffers: dropped on load
  const legacy = join(tmp, 'legacy');
  tidy(() => {
    saveCheckpoint(legacy, {
      config: clipCheckpointConfig(cfg),
      tensors: {
        ...sd,
        'text_model.embeddings.position_ids': arange(0, 77, 1, { dtype: 'int64' }).unsqueeze(0),
      },
    });
  });
  loadCLIPModel(legacy).dispose();
  // and an unexpected tensor that is not such a buffer is an error
  const extra = join(tmp, 'extra');
  tidy(() =>
    saveCheckpoint(extra, {
      config: clipCheckpointConfig(cfg),
      tensors: { ...sd, 'text_projection.bias': rand([16]) },
    }),
  );
  assert.throws(() => loadCLIPModel(extra), /unexpected keys: text_projection\.bias/);
  // the wrong class, no folder, no weights
  saveCheckpoint(join(tmp, 'other'), {
    config: { class: 'UNet2DConditionModel' },
    tensors: { w: sd['logit_scale']! },
  });
  assert.throws(() => loadCLIPModel(join(tmp, 'other')), /holds a UNet2DConditionModel, expected CLIPModel/);
  assert.throws(() => loadCheckpoint(join(tmp, 'nope')), /no such folder/);
  // loadIntoModule is the generic helper behind both
  const sub = loadCheckpoint(missing);
  assert.throws(
    () => loadIntoModule(clip, sub.stateDict, { source: 'here' }),
    /^CheckpointError: here: missing keys/,
  );
  dispose(Object.values(sub.stateDict));
  noGrad(() => clip.dispose());
});

test('ROC AUC and best-threshold accuracy', () => {
  assert.equal(rocAuc([0.1, 0.2, 0.3, 0.4], [false, false, true, true]), 1);
  assert.equal(rocAuc([0.4, 0.3, 0.2, 0.1], [false, false, true, true]), 0);
  assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [false, true, false, true]), 0.5);
  assert.equal(rocAuc([0.1, 0.3, 0.2, 0.4], [false, false, true, true]), 0.75);
  assert.equal(bestThresholdAccuracy([0.1, 0.2, 0.3, 0.4], [false, false, true, true]), 1);
  assert.equal(bestThresholdAccuracy([0.1, 0.3, 0.2, 0.4], [false, false, true, true]), 0.75);
  assert.equal(bestThresholdAccuracy([0.5, 0.5], [true, false]), 0.5);
});

test('retrieval and count figures run on any CLIP (renders at its image size) and stay in range', () => {
  const clip = new CLIPModel(tinyConfig(), new Generator(0));
  const r = clipRetrieval(clip, tok, { n: 12, candidates: 10 });
  assert.equal(r.n, 12);
  for (const x of [r.top1, r.top5, r.objectAccuracy, r.colorAccuracy, r.backgroundAccuracy])
    assert.ok(x >= 0 && x <= 1);
  assert.ok(r.top5 >= r.top1);
  assert.deepEqual(clipRetrieval(clip, tok, { n: 12, candidates: 10 }), r, 'seeded');
  for (const wrong of ['uniform', 'off_by_one'] as const) {
    const c = clipCountCorrectness(clip, tok, { n: 12, wrong });
    assert.equal(c.positiveRate, 0.5);
    assert.ok(
      c.auc >= 0 && c.auc <= 1 && c.bestThresholdAccuracy >= 0.5 && c.countTop1 >= 0 && c.countTop1 <= 1,
    );
  }
  assert.equal(clip.training, true, 'the evaluations restore training mode');
  clip.dispose();
});
