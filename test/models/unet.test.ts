/**
 * UNet2DConditionModel on a tiny seeded config. Golden output: test/models/golden/unet_tiny_out.json,
 * made by test/models/golden/unet_ref.py — an independent functional PyTorch implementation of
 * diffusers' UNet2DConditionModel — from the weights and inputs in unet_tiny.safetensors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { denoisingLoss, drawDenoising } from '../../src/models/denoising_loss.js';
import { DDPMScheduler } from '../../src/models/scheduler_ddpm.js';
import { UNet2DConditionModel, validateUNetConfig, WORLD_UNET_CONFIG } from '../../src/models/unet.js';
import { full, Generator, loadSafetensors, optim, randn, tensor, tidy } from '../../src/torch/index.js';
import { TINY_UNET } from './tiny.js';

const golden = new URL('./golden/', import.meta.url);

test('the UNet matches an independent PyTorch reference of diffusers UNet2DConditionModel', () => {
  tidy(() => {
    const { tensors } = loadSafetensors(new URL('unet_tiny.safetensors', golden).pathname);
    const unet = new UNet2DConditionModel(TINY_UNET);
    const inputs = Object.fromEntries(Object.entries(tensors).filter(([k]) => k.startsWith('__')));
    unet.loadStateDict(Object.fromEntries(Object.entries(tensors).filter(([k]) => !k.startsWith('__'))));
    const out = unet.forward(inputs['__sample']!, inputs['__timesteps']!, inputs['__context']!);
    const ref = JSON.parse(readFileSync(new URL('unet_tiny_out.json', golden), 'utf8')) as {
      shape: number[];
      data: number[];
    };
    assert.deepEqual(out.shape, ref.shape);
    const got = out.toArray();
    let maxErr = 0;
    got.forEach((v, i) => {
      maxErr = Math.max(maxErr, Math.abs(v - ref.data[i]!));
    });
    assert.ok(maxErr < 1e-4, `max abs error ${maxErr}`);
  });
});

test('parameter names follow diffusers', () => {
  const names = Object.keys(new UNet2DConditionModel(WORLD_UNET_CONFIG).stateDict());
  for (const expected of [
    'conv_in.weight',
    'time_embedding.linear_1.weight',
    'down_blocks.0.resnets.0.conv1.weight',
    'down_blocks.0.downsamplers.0.conv.weight',
    'down_blocks.2.attentions.0.proj_in.weight',
    'down_blocks.2.attentions.0.transformer_blocks.0.attn2.to_k.weight',
    'down_blocks.2.attentions.0.transformer_blocks.0.ff.net.0.proj.weight',
    'down_blocks.2.attentions.0.transformer_blocks.0.ff.net.2.weight',
    'mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0.bias',
    'mid_block.resnets.1.time_emb_proj.weight',
    'up_blocks.0.resnets.1.conv_shortcut.weight',
    'up_blocks.0.upsamplers.0.conv.weight',
    'conv_norm_out.weight',
    'conv_out.bias',
  ]) {
    assert.ok(names.includes(expected), `missing ${expected}`);
  }
  assert.ok(
    !names.some((n) => n.includes('attentions') && n.startsWith('down_blocks.0')),
    'no attention at 32x32',
  );
  assert.throws(
    () => validateUNetConfig({ ...TINY_UNET, down_block_types: ['SimpleDown' as never, 'DownBlock2D'] }),
    /unknown down block type "SimpleDown"/,
  );
});

test('shapes and determinism: the same seed builds the same model and output', () => {
  tidy(() => {
    const a = new UNet2DConditionModel(TINY_UNET, { generator: new Generator(5) });
    const b = new UNet2DConditionModel(TINY_UNET, { generator: new Generator(5) });
    const x = randn([3, 3, 8, 8], { generator: new Generator(1) });
    const ctx = randn([3, 4, 12], { generator: new Generator(2) });
    const ya = a.forward(x, tensor([1, 500, 999]), ctx);
    assert.deepEqual(ya.shape, [3, 3, 8, 8]);
    assert.deepEqual(ya.toArray(), b.forward(x, tensor([1, 500, 999]), ctx).toArray());
    // one timestep for the whole batch broadcasts
    assert.deepEqual(
      a.forward(x, full([1], 500), ctx).toArray(),
      a.forward(x, tensor([500, 500, 500]), ctx).toArray(),
    );
  });
});

test('the denoising loss is per sample, and training lowers it on a tiny set', () => {
  const g = new Generator(3);
  const unet = new UNet2DConditionModel(TINY_UNET, { generator: g });
  const sched = new DDPMScheduler();
  const x0 = randn([8, 3, 8, 8], { generator: g }).clamp(-1, 1);
  const ctx = randn([8, 4, 12], { generator: g });
  const draw = drawDenoising(sched, x0, new Generator(9));
  const before = tidy(() => denoisingLoss(unet, sched, x0, ctx, { draw }));
  assert.deepEqual(before.shape, [8]);
  const opt = new optim.AdamW(unet.parameters(), { lr: 3e-3 });
  const w0 = unet.conv_in.weight.clone();
  for (let i = 0; i < 60; i++) {
    tidy(() => {
      opt.zeroGrad();
      denoisingLoss(unet, sched, x0, ctx, { draw }).mean().backward();
      opt.step();
    });
  }
  const after = tidy(() => denoisingLoss(unet, sched, x0, ctx, { draw }).mean().item());
  assert.ok(after < before.mean().item() * 0.7, `loss ${before.mean().item()} -> ${after}`);
  assert.ok(tidy(() => unet.conv_in.weight.sub(w0).abs().amax().item()) > 1e-4);
});
