/** The text-to-image pipeline on tiny seeded models: per-image seeds, guidance, checkpoint round trip. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { saveCheckpoint } from '../../src/models/checkpoint.js';
import { CLIP_TEXT_DEFAULTS, CLIPTextModel } from '../../src/models/clip.js';
import { TextToImagePipeline } from '../../src/models/pipeline.js';
import { ClipTextEncoder, loadPipeline, savePipeline } from '../../src/models/t2i_checkpoint.js';
import { worldTokenizer } from '../../src/models/tokenizer.js';
import { UNet2DConditionModel } from '../../src/models/unet.js';
import { Generator } from '../../src/torch/index.js';
import { TINY_UNET } from './tiny.js';

const tokenizer = worldTokenizer();
const textConfig = {
  ...CLIP_TEXT_DEFAULTS,
  vocab_size: tokenizer.vocabSize,
  hidden_size: 12,
  intermediate_size: 24,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  bos_token_id: tokenizer.bosTokenId,
  eos_token_id: tokenizer.eosTokenId,
  pad_token_id: tokenizer.padTokenId,
};

function tinyPipeline(): TextToImagePipeline {
  const text = new CLIPTextModel(textConfig, new Generator(1)).eval();
  const unet = new UNet2DConditionModel(TINY_UNET, { generator: new Generator(2) });
  return new TextToImagePipeline(unet, new ClipTextEncoder(text, tokenizer), { clip_sample: true });
}

test('the same seed gives the same image whatever the batch (eta 0 and eta 1)', () => {
  const pipe = tinyPipeline();
  const prompts = ['Two dogs.', 'A green colored apple.', 'A cake on the moon.'];
  for (const eta of [0, 1]) {
    const all = pipe.generate(prompts, { seeds: [11, 12, 13], steps: 4, guidance: 3, eta, batchSize: 3 });
    const alone = pipe.generate([prompts[1]!], { seeds: [12], steps: 4, guidance: 3, eta, batchSize: 1 });
    const pairs = pipe.generate(prompts, { seeds: [11, 12, 13], steps: 4, guidance: 3, eta, batchSize: 2 });
    assert.deepEqual(all.shape, [3, 3, 8, 8]);
    const min = all.amin().item();
    const max = all.amax().item();
    assert.ok(min >= 0 && max <= 1, `images in [0, 1], got [${min}, ${max}]`);
    assert.ok(
      all.select(0, 1).sub(alone.select(0, 0)).abs().amax().item() < 1e-4,
      `eta ${eta}: batch of 3 vs alone`,
    );
    assert.ok(all.sub(pairs).abs().amax().item() < 1e-4, `eta ${eta}: batch of 3 vs batches of 2`);
    // a different seed gives a different image
    assert.ok(all.select(0, 0).sub(all.select(0, 1)).abs().amax().item() > 1e-3);
  }
});

test('a text-to-image checkpoint round-trips and samples the same images', () => {
  const dir = mkdtempSync(join(tmpdir(), 't2i-pipe-'));
  const clipDir = join(dir, 'clip');
  const pipe = tinyPipeline();
  const encoder = pipe.textEncoder as ClipTextEncoder;
  saveCheckpoint(clipDir, {
    config: { class: 'CLIPTextModel', ...textConfig },
    module: encoder.model,
    files: { 'vocab.json': tokenizer.vocabJson() },
  });
  savePipeline(join(dir, 'base'), {
    unet: pipe.unet,
    scheduler: { clip_sample: true },
    textEncoderDir: clipDir,
    dtype: 'float32',
    sampler: { steps: 3 },
  });
  const loaded = loadPipeline(join(dir, 'base'));
  assert.equal(loaded.config.text_encoder, '../clip');
  assert.equal(loaded.config.sampler.steps, 3);
  const a = pipe.generate(['Two dogs.'], { seeds: [5], steps: 3 });
  const b = loaded.pipeline.generate(['Two dogs.'], { seeds: [5], steps: 3 });
  assert.ok(a.sub(b).abs().amax().item() < 1e-5);
});
