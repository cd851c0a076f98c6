/** Scheduler maths against closed forms: alphas_cumprod, add_noise / step as inverses. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DDIMScheduler } from '../../src/models/scheduler_ddim.js';
import {
  cumprodAlphas,
  DDPMScheduler,
  dynamicThreshold,
  makeBetas,
} from '../../src/models/scheduler_ddpm.js';
import { full, Generator, randn, tensor, tidy } from '../../src/torch/index.js';

test('alphas_cumprod matches the closed form for linear and scaled_linear betas', () => {
  const lin = new DDPMScheduler({
    num_train_timesteps: 1000,
    beta_start: 1e-4,
    beta_end: 0.02,
    beta_schedule: 'linear',
  });
  let p = 1;
  for (let t = 0; t < 1000; t++) {
    const beta = 1e-4 + (t / 999) * (0.02 - 1e-4);
    p *= 1 - beta;
    assert.ok(Math.abs(lin.alphasCumprod[t]! - p) < 1e-12);
  }
  // Stable Diffusion's schedule: beta_t = (sqrt(0.00085) + t/999 (sqrt(0.012) - sqrt(0.00085)))^2
  const sd = makeBetas({
    num_train_timesteps: 1000,
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
  });
  assert.ok(Math.abs(sd[0]! - 0.00085) < 1e-12 && Math.abs(sd[999]! - 0.012) < 1e-12);
  const mid = (Math.sqrt(0.00085) + (500 / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085))) ** 2;
  assert.ok(Math.abs(sd[500]! - mid) < 1e-15);
  // golden: torch.cumprod(1 - torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64)**2, 0)[999]
  // = 0.004660098513077241 (Debian python3-torch 1.13)
  assert.ok(Math.abs(cumprodAlphas(sd)[999]! - 0.004660098513077241) < 1e-15);
  assert.throws(
    () => new DDPMScheduler({ beta_schedule: 'cosine' as never }),
    /unknown beta schedule "cosine"/,
  );
});

test('addNoise is inverted by the x0 formula, and v-prediction targets are consistent', () => {
  tidy(() => {
    const s = new DDPMScheduler();
    const g = new Generator(0);
    const x0 = randn([4, 3, 8, 8], { generator: g });
    const eps = randn([4, 3, 8, 8], { generator: g });
    const t = tensor([0, 10, 500, 999], { dtype: 'int64' });
    const xt = s.addNoise(x0, eps, t);
    [0, 10, 500, 999].forEach((ti, i) => {
      const a = s.alphasCumprod[ti]!;
      const rec = xt
        .select(0, i)
        .sub(eps.select(0, i).mul(Math.sqrt(1 - a)))
        .div(Math.sqrt(a));
      assert.ok(rec.sub(x0.select(0, i)).abs().amax().item() < 2e-3 * (1 / Math.sqrt(a)));
    });
    // v = sqrt(a) eps - sqrt(1-a) x0  =>  sqrt(a) x_t - sqrt(1-a) v = x0
    const v = s.getVelocity(x0, eps, t);
    [0, 500, 999].forEach((ti) => {
      const i = [0, 10, 500, 999].indexOf(ti);
      const a = s.alphasCumprod[ti]!;
      const rec = xt
        .select(0, i)
        .mul(Math.sqrt(a))
        .sub(v.select(0, i).mul(Math.sqrt(1 - a)));
      assert.ok(rec.sub(x0.select(0, i)).abs().amax().item() < 1e-4);
    });
  });
});

test('a DDIM step with the true noise maps x_t exactly onto the forward process at t_prev (eta = 0)', () => {
  tidy(() => {
    for (const prediction_type of ['epsilon', 'v_prediction'] as const) {
      const ddpm = new DDPMScheduler({ prediction_type, clip_sample: false });
      const ddim = new DDIMScheduler({ prediction_type, clip_sample: false });
      ddim.setTimesteps(10);
      assert.deepEqual(ddim.timesteps, [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
      const g = new Generator(1);
      const x0 = randn([2, 3, 4, 4], { generator: g }).clamp(-1, 1);
      const eps = randn([2, 3, 4, 4], { generator: g });
      for (const t of ddim.timesteps) {
        const tt = full([2], t, { dtype: 'int64' });
        const xt = ddpm.addNoise(x0, eps, tt);
        const out = prediction_type === 'epsilon' ? eps : ddpm.getVelocity(x0, eps, tt);
        const { prevSample, predOriginalSample } = ddim.step(out, t, xt);
        assert.ok(predOriginalSample.sub(x0).abs().amax().item() < 1e-3, `${prediction_type} x0 at t=${t}`);
        const expected = t - 100 >= 0 ? ddpm.addNoise(x0, eps, full([2], t - 100, { dtype: 'int64' })) : x0;
        assert.ok(prevSample.sub(expected).abs().amax().item() < 1e-3, `${prediction_type} x_prev at t=${t}`);
      }
    }
  });
});

test('DDIM clamps x0 and recomputes the noise from the clamped x0', () => {
  tidy(() => {
    const ddim = new DDIMScheduler({ clip_sample: true });
    ddim.setTimesteps(4);
    const t = ddim.timesteps[3]!; // t = 0: the next alpha_bar is 1, so x_prev = x0
    const sample = full([1, 1, 2, 2], 3);
    const { prevSample, predOriginalSample } = ddim.step(full([1, 1, 2, 2], 0), t, sample);
    assert.deepEqual(predOriginalSample.toArray(), [1, 1, 1, 1]);
    assert.ok(prevSample.sub(1).abs().amax().item() < 1e-6);
    assert.throws(() => ddim.setTimesteps(0), /number of steps/);
  });
});

test('dynamic thresholding clamps each sample at its |x0| quantile and divides by it', () => {
  tidy(() => {
    // sample 0: |x| = 0.5, 1, 2, 4 -> the 0.75 quantile (3rd smallest) is 2 -> clamp to [-2, 2] / 2
    // sample 1: every |x| <= 1 -> s = 1 (no change)
    const x0 = tensor([0.5, -1, 2, -4, 0.25, -0.5, 0.75, 1]).reshape(2, 1, 2, 2);
    const out = [...dynamicThreshold(x0, 0.75, 10).toFloat32Array()];
    assert.deepEqual(out, [0.25, -0.5, 1, -1, 0.25, -0.5, 0.75, 1]);
    // sample_max_value caps s: with 1.5, sample 0 is clamped to [-1.5, 1.5] / 1.5
    const capped = [...dynamicThreshold(x0, 0.75, 1.5).toFloat32Array()].slice(0, 4);
    assert.deepEqual(
      capped.map((v) => Math.round(v * 1e6) / 1e6),
      [1 / 3, -2 / 3, 1, -1].map((v) => Math.round(v * 1e6) / 1e6),
    );
    // DDIM with thresholding: a t = 0 step returns the thresholded x0
    const ddim = new DDIMScheduler({
      prediction_type: 'epsilon',
      thresholding: true,
      dynamic_thresholding_ratio: 0.75,
      sample_max_value: 10,
    });
    ddim.setTimesteps(4);
    const { predOriginalSample } = ddim.step(full([2, 1, 2, 2], 0), ddim.timesteps[3]!, x0);
    const a0 = Math.sqrt(ddim.alphasCumprod[0]!);
    const expect = dynamicThreshold(x0.div(a0), 0.75, 10);
    assert.ok(predOriginalSample.sub(expect).abs().amax().item() < 1e-6);
  });
});
