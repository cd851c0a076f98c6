/**
 * The shipped sprite-world checkpoints load and sample: one image per prompt category with the
 * original model's default sampler settings, in under a minute (issue: models, "Tests").
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { loadCLIPModel } from '../../src/models/clip.js';
import { loadPipeline } from '../../src/models/t2i_checkpoint.js';
import { loadTokenizer } from '../../src/models/tokenizer.js';

const BASE = 'checkpoints/world/base';
const CLIP = 'checkpoints/world/clip';

test('the shipped world CLIP loads and tokenizes the evaluation grammar', {
  skip: existsSync(`${CLIP}/config.json`) ? false : `${CLIP} not shipped`,
}, () => {
  const clip = loadCLIPModel(CLIP);
  const tok = loadTokenizer(CLIP);
  const ids = tok.encodeBatch(['Two blue dogs in the forest.', 'A red colored bear.']);
  const t = clip.encodeText(ids);
  assert.deepEqual(t.textEmbeds.shape, [2, clip.config.projection_dim]);
  clip.dispose();
});

// its time limit (a minute) is measured by `npm run bench:smoke`, not asserted here
test('the shipped original model samples one image per category', {
  skip: existsSync(`${BASE}/config.json`) ? false : `${BASE} not shipped`,
  timeout: 120_000,
}, (t) => {
  const t0 = performance.now();
  const { pipeline, config } = loadPipeline(BASE);
  const prompts = [
    'Two dogs.',
    'A green colored apple.',
    'A cake on the moon.',
    'Three blue cars in the forest.',
  ];
  const images = pipeline.generate(prompts, { seeds: [0, 1, 2, 3], ...config.sampler });
  const seconds = (performance.now() - t0) / 1000;
  assert.deepEqual(images.shape, [4, 3, config.unet.sample_size, config.unet.sample_size]);
  assert.ok(images.amin().item() >= 0 && images.amax().item() <= 1);
  t.diagnostic(`load + 4 images: ${seconds.toFixed(1)} s`);
});
