/**
 * The engine benchmark's fixed workloads (issue "Foundation", bench:engine), also used by the leak
 * test. bench/engine.py builds the same three in Python PyTorch for the comparison.
 */
import { F, Generator, nn, optim, randn, type Tensor, tidy } from '../src/torch/index.js';

export interface Workload {
  name: string;
  /** One full training step: zeroGrad, forward, backward, optimizer step. Returns the loss. */
  step(): number;
  dispose(): void;
}

/** 4-layer conv net 3->32->32->32->3, 3x3, padding 1, ReLU between; x [32,3,32,32]; loss mean((net(x)-x)^2); Adam 1e-3. */
export function convWorkload(device = 'cpu'): Workload {
  const g = new Generator(0);
  const relu = () => new nn.Lambda((x) => x.relu());
  const net = new nn.Sequential(
    new nn.Conv2d(3, 32, 3, { padding: 1, generator: g }),
    relu(),
    new nn.Conv2d(32, 32, 3, { padding: 1, generator: g }),
    relu(),
    new nn.Conv2d(32, 32, 3, { padding: 1, generator: g }),
    relu(),
    new nn.Conv2d(32, 3, 3, { padding: 1, generator: g }),
  ).to({ device });
  const x = randn([32, 3, 32, 32], { generator: g, device });
  const opt = new optim.Adam(net.parameters(), { lr: 1e-3 });
  return {
    name: 'conv',
    step: () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = net.forward(x).sub(x).square().mean();
        loss.backward();
        opt.step();
        return loss.item();
      }),
    dispose: () => {
      net.dispose();
      opt.dispose();
      x.dispose();
    },
  };
}

/** One pre-norm transformer block (width 128, 4 heads, separate q/k/v/out, MLP 128->512->128 GELU); x [64,64,128]; loss mean(y^2); AdamW 1e-3. */
export function attnWorkload(device = 'cpu'): Workload {
  const g = new Generator(0);
  const D = 128;
  const H = 4;
  class Block extends nn.Module {
    readonly ln1 = this.registerModule('ln1', new nn.LayerNorm(D));
    readonly q = this.registerModule('q', new nn.Linear(D, D, { generator: g }));
    readonly k = this.registerModule('k', new nn.Linear(D, D, { generator: g }));
    readonly v = this.registerModule('v', new nn.Linear(D, D, { generator: g }));
    readonly out = this.registerModule('out', new nn.Linear(D, D, { generator: g }));
    readonly ln2 = this.registerModule('ln2', new nn.LayerNorm(D));
    readonly fc1 = this.registerModule('fc1', new nn.Linear(D, 4 * D, { generator: g }));
    readonly fc2 = this.registerModule('fc2', new nn.Linear(4 * D, D, { generator: g }));
    forward(x: Tensor): Tensor {
      const [B, L] = x.shape as [number, number, number];
      const heads = (t: Tensor) => t.view(B, L, H, D / H).transpose(1, 2);
      const h = this.ln1.forward(x);
      const a = F.scaledDotProductAttention(
        heads(this.q.forward(h)),
        heads(this.k.forward(h)),
        heads(this.v.forward(h)),
      );
      const x1 = x.add(this.out.forward(a.transpose(1, 2).reshape(B, L, D)));
      return x1.add(this.fc2.forward(F.gelu(this.fc1.forward(this.ln2.forward(x1)))));
    }
  }
  const net = new Block().to({ device });
  const x = randn([64, 64, D], { generator: g, device });
  const opt = new optim.AdamW(net.parameters(), { lr: 1e-3 });
  return {
    name: 'attn',
    step: () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = net.forward(x).square().mean();
        loss.backward();
        opt.step();
        return loss.item();
      }),
    dispose: () => {
      net.dispose();
      opt.dispose();
      x.dispose();
    },
  };
}

/** Linear 1536->512, ReLU, Linear 512->1 (the reward model's shape); x [256,1536]; MSE vs randn targets; Adam 1e-3. */
export function mlpWorkload(device = 'cpu'): Workload {
  const g = new Generator(0);
  const net = new nn.Sequential(
    new nn.Linear(1536, 512, { generator: g }),
    new nn.Lambda((x) => x.relu()),
    new nn.Linear(512, 1, { generator: g }),
  ).to({ device });
  const x = randn([256, 1536], { generator: g, device });
  const y = randn([256, 1], { generator: g, device });
  const opt = new optim.Adam(net.parameters(), { lr: 1e-3 });
  return {
    name: 'mlp',
    step: () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = F.mseLoss(net.forward(x), y);
        loss.backward();
        opt.step();
        return loss.item();
      }),
    dispose: () => {
      net.dispose();
      opt.dispose();
      x.dispose();
      y.dispose();
    },
  };
}
