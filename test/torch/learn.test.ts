/** A tiny MLP and a tiny conv net learn: the loss falls and the parameters move. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { F, Generator, manualSeed, nn, optim, randn, tidy } from '../../src/torch/index.js';
import { DEVICE } from './helpers.js';

test('a tiny MLP fits a smooth function (loss falls by 10x)', () => {
  manualSeed(0);
  const g = new Generator(0);
  const net = new nn.Sequential(
    new nn.Linear(2, 32, { generator: g }),
    new nn.Lambda((x) => x.relu()),
    new nn.Linear(32, 1, { generator: g }),
  );
  net.to({ device: DEVICE });
  const x = randn([256, 2], { generator: g, device: DEVICE });
  const y = tidy(() => x.select(1, 0).sin().mul(x.select(1, 1)).unsqueeze(1));
  const w0 = net.parameters()[0]!.clone();
  const opt = new optim.AdamW(net.parameters(), { lr: 1e-2, weightDecay: 0 });
  const losses: number[] = [];
  for (let i = 0; i < 300; i++) {
    losses.push(
      tidy(() => {
        opt.zeroGrad();
        const loss = F.mseLoss(net.forward(x), y);
        loss.backward();
        opt.step();
        return loss.item();
      }),
    );
  }
  assert.ok(losses.at(-1)! < losses[0]! / 10, `loss ${losses[0]} -> ${losses.at(-1)}`);
  assert.ok(tidy(() => net.parameters()[0]!.sub(w0).abs().amax().item()) > 1e-3, 'weights moved');
  net.dispose();
});

test('a tiny conv net learns to reconstruct its input (loss halves)', () => {
  const g = new Generator(1);
  const net = new nn.Sequential(
    new nn.Conv2d(3, 16, 3, { padding: 1, generator: g }),
    new nn.Lambda((x) => x.relu()),
    new nn.Conv2d(16, 16, 3, { padding: 1, generator: g }),
    new nn.Lambda((x) => x.relu()),
    new nn.Conv2d(16, 3, 3, { padding: 1, generator: g }),
  );
  net.to({ device: DEVICE });
  const opt = new optim.Adam(net.parameters(), { lr: 3e-3 });
  const x = randn([16, 3, 12, 12], { generator: g, device: DEVICE });
  const losses: number[] = [];
  for (let i = 0; i < 120; i++) {
    losses.push(
      tidy(() => {
        opt.zeroGrad();
        const loss = net.forward(x).sub(x).square().mean();
        loss.backward();
        optim.clipGradNorm(net.parameters(), 1.0);
        opt.step();
        return loss.item();
      }),
    );
  }
  assert.ok(losses.at(-1)! < losses[0]! / 2, `loss ${losses[0]} -> ${losses.at(-1)}`);
  net.dispose();
});

test('learning-rate schedules and EMA behave as documented', () => {
  assert.equal(optim.constantWithWarmup(0, 10), 0.1);
  assert.equal(optim.constantWithWarmup(50, 10), 1);
  assert.equal(optim.cosineWithWarmup(10, 10, 110), 1);
  assert.ok(Math.abs(optim.cosineWithWarmup(60, 10, 110) - 0.5) < 1e-12);
  assert.ok(Math.abs(optim.cosineWithWarmup(110, 10, 110, 0.1) - 0.1) < 1e-12);
  tidy(() => {
    const p = randn([3]);
    const ema = new optim.EMA([p], 0.5);
    const before = ema.shadow[0]!.toArray();
    p.add_(2);
    ema.update();
    ema.shadow[0]!.toArray().forEach((v, i) => {
      assert.ok(Math.abs(v - (before[i]! + 1)) < 1e-6);
    });
    ema.dispose();
  });
});
