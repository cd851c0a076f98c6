/**
 * Op values against PyTorch. Golden values: test/torch/golden/ops.json, made by
 * test/torch/golden/make_golden.py with Debian's python3-torch (libtorch 1.13, the library the addon links).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  cat,
  eigh,
  einsum,
  F,
  Generator,
  nn,
  optim,
  rand,
  randint,
  randn,
  randperm,
  sqrtmSymmetric,
  stack,
  type Tensor,
  tensor,
  tidy,
  where,
} from '../../src/torch/index.js';
import { assertClose, DEVICE, decode, type Encoded } from './helpers.js';

interface Case {
  name: string;
  inputs: Record<string, Encoded>;
  outputs: Encoded[];
}
const golden = JSON.parse(readFileSync(new URL('./golden/ops.json', import.meta.url), 'utf8')) as {
  cases: Case[];
};

type Inputs = Record<string, Tensor>;
const impl: Record<string, (i: Inputs) => Tensor | Tensor[]> = {
  add_broadcast: ({ a, b }) => a!.add(b!),
  mul_div_sub: ({ a, pos }) => a!.mul(pos!).sub(a!).div(pos!),
  pow_exp_log_sqrt: ({ pos }) => pos!.pow(1.5).add(pos!.exp()).add(pos!.log()).add(pos!.sqrt()),
  sin_cos: ({ a }) => a!.sin().mul(2).add(a!.cos()),
  clamp: ({ a }) => a!.clamp(-0.5, 0.7),
  sum_mean_var: ({ a }) => [a!.sum(1), a!.mean([0, 2], true), a!.var(2), a!.var(2, { unbiased: false })],
  max_argmax: ({ a }) => {
    const m = a!.max(2);
    return [m.values, m.indices, a!.argmax()];
  },
  topk_sort: ({ a }) => {
    const t = a!.topk(2, -1);
    const s = a!.sort(1, true);
    return [t.values, t.indices, s.values, s.indices];
  },
  matmul_bmm: ({ m1, m2 }) => [m1!.matmul(m2!), m1!.bmm(m2!), m1!.select(0, 0).matmul(m2!.select(0, 0))],
  einsum: ({ m1, m2 }) => einsum('bij,bjk->bik', m1!, m2!),
  shape_ops: ({ a }) => [
    a!.permute(2, 0, 1),
    a!.transpose(0, 2).reshape(4, 6),
    cat([a!, a!.mul(2)], 1),
    stack([a!, a!], 0),
    a!.split(2, 2)[1]!,
    a!.chunk(3, 1)[2]!,
    a!.slice(1, 1, 3).slice(2, 0, undefined, 2),
    a!.repeat(1, 2, 1),
  ],
  index_ops: ({ a, idx }) => [
    a!.indexSelect(1, idx!),
    a!.gather(
      2,
      tensor(
        [
          [[0], [3], [1]],
          [[2], [2], [0]],
        ],
        { dtype: 'int64', device: DEVICE },
      ),
    ),
    where(a!.gt(0), a!, a!.neg().mul(3)),
    a!.maskedFill(a!.lt(0), -9),
  ],
  linear: ({ x, w, bias }) => F.linear(x!, w!, bias!),
  conv2d: ({ img, cw, cb }) => F.conv2d(img!, cw!, cb!, { stride: 2, padding: 1, groups: 2 }),
  interpolate: ({ img }) => [
    F.interpolate(img!, { size: [16, 16], mode: 'nearest' }),
    F.interpolate(img!, { size: [12, 12], mode: 'bilinear', alignCorners: false }),
  ],
  avg_pool: ({ img }) => F.avgPool2d(img!, 2),
  group_norm: ({ img, gw, gb }) => F.groupNorm(img!, 2, gw!, gb!, 1e-5),
  layer_norm: ({ x, lw, lb }) => F.layerNorm(x!, [6], lw!, lb!, 1e-5),
  embedding: ({ emb, ids }) => F.embedding(ids!, emb!),
  activations: ({ a }) => [
    F.gelu(a!),
    F.gelu(a!, 'tanh'),
    F.quickGelu(a!),
    F.silu(a!),
    a!.sigmoid(),
    a!.tanh(),
    a!.relu(),
  ],
  softmax: ({ a }) => [F.softmax(a!, -1), F.logSoftmax(a!, 1)],
  losses: ({ logits, target, x }) => [
    F.crossEntropy(logits!, target!),
    F.crossEntropy(logits!, target!, { reduction: 'none' }),
    F.mseLoss(x!, x!.mul(0.5)),
    F.mseLoss(x!, x!.flip(0), 'none'),
  ],
  attention: ({ q, k, v, q2 }) => [
    F.scaledDotProductAttention(q!, k!, v!),
    F.scaledDotProductAttention(q2!, k!, v!, { isCausal: true }),
  ],
  eigh: ({ spd }) => [eigh(spd!).eigenvalues, sqrtmSymmetric(spd!)],
  random: () => [
    randn([3, 4], { generator: new Generator(7) }),
    rand(5, { generator: new Generator(7) }),
    randint(0, 10, 6, { generator: new Generator(7) }),
    randperm(8, { generator: new Generator(7) }),
  ],
  autograd: ({ x, w, bias }) => {
    const xg = x!.clone().requiresGrad_();
    const wg = w!.clone().requiresGrad_();
    const y = F.layerNorm(F.linear(xg, wg, bias!), [5])
      .tanh()
      .pow(2)
      .sum();
    const ce = F.crossEntropy(F.linear(xg, wg), tensor([1, 0, 4, 2], { dtype: 'int64', device: DEVICE }));
    const loss = y.add(ce);
    loss.backward();
    return [loss, xg.grad!, wg.grad!];
  },
  optimizers: ({ p0, gr }) => {
    const out: Tensor[] = [];
    const makers = [
      (p: Tensor) => new optim.Adam([p], { lr: 0.1, weightDecay: 0.05 }),
      (p: Tensor) => new optim.AdamW([p], { lr: 0.1, weightDecay: 0.05 }),
      (p: Tensor) => new optim.SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    ];
    for (const make of makers) {
      const p = p0!.clone().requiresGrad_();
      const opt = make(p);
      for (let i = 0; i < 3; i++) {
        opt.zeroGrad();
        p.mul(gr!)
          .mul(i + 1)
          .sum()
          .backward();
        opt.step();
      }
      out.push(p.detach());
    }
    return out;
  },
};

for (const c of golden.cases) {
  test(`op ${c.name} matches PyTorch`, () => {
    const fn = impl[c.name];
    assert.ok(fn, `no implementation for golden case ${c.name}`);
    tidy(() => {
      const inputs: Inputs = {};
      for (const [k, v] of Object.entries(c.inputs)) inputs[k] = decode(v);
      const out = fn(inputs);
      const outs = Array.isArray(out) ? out : [out];
      assert.equal(outs.length, c.outputs.length, 'number of outputs');
      outs.forEach((t, i) => {
        assertClose(t, c.outputs[i]!, { atol: 2e-5, rtol: 2e-4 }, `${c.name}[${i}]`);
      });
    });
  });
}

test('every golden case has an implementation and vice versa', () => {
  assert.deepEqual(Object.keys(impl).sort(), golden.cases.map((c) => c.name).sort());
});

test('dtypes convert and round-trip through typed arrays', () => {
  tidy(() => {
    const x = tensor([1.5, -2.25, 3], { device: DEVICE });
    for (const dtype of ['float16', 'bfloat16', 'float64'] as const) {
      const y = x.to(dtype);
      assert.equal(y.dtype, dtype);
      assert.deepEqual(y.toArray(), [1.5, -2.25, 3]);
    }
    assert.deepEqual(x.to('int64').toArray(), [1, -2, 3]);
    assert.deepEqual(x.to('int32').toArray(), [1, -2, 3]);
    assert.deepEqual(x.gt(0).toArray(), [1, 0, 1]);
    assert.equal(x.gt(0).dtype, 'bool');
    assert.deepEqual(tensor([255, 7], { dtype: 'uint8' }).toArray(), [255, 7]);
  });
});

test('the same seed gives the same draws; different seeds differ', () => {
  tidy(() => {
    const a = randn([16], { generator: new Generator(3) }).toArray();
    const b = randn([16], { generator: new Generator(3) }).toArray();
    const c = randn([16], { generator: new Generator(4) }).toArray();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    const g = new Generator(9);
    const state = g.getState();
    const first = rand([4], { generator: g }).toArray();
    g.setState(state);
    assert.deepEqual(rand([4], { generator: g }).toArray(), first);
  });
});

test('nn modules name parameters like PyTorch state_dict and count them', () => {
  class Block extends nn.Module {
    readonly proj = this.registerModule('proj', new nn.Linear(4, 8));
    readonly norm = this.registerModule('norm', new nn.GroupNorm(2, 8));
    readonly layers = this.registerModule(
      'layers',
      new nn.ModuleList([new nn.Conv2d(8, 8, 3, { padding: 1 }), new nn.Embedding(5, 8)]),
    );
    readonly seq = this.registerModule('seq', new nn.Sequential(new nn.LayerNorm(8), new nn.Dropout(0.1)));
  }
  const b = new Block();
  assert.deepEqual(Object.keys(b.stateDict()), [
    'proj.weight',
    'proj.bias',
    'norm.weight',
    'norm.bias',
    'layers.0.weight',
    'layers.0.bias',
    'layers.1.weight',
    'seq.0.weight',
    'seq.0.bias',
  ]);
  assert.equal(b.numParameters(), 4 * 8 + 8 + 8 + 8 + 8 * 8 * 9 + 8 + 5 * 8 + 8 + 8);
  b.eval();
  assert.equal(b.seq.layers[1]!.training, false);
  b.to({ dtype: 'float64' });
  assert.equal(b.proj.weight.dtype, 'float64');
  assert.equal(b.proj.weight.requiresGrad, true);
  b.dispose();
});

test('noGrad turns off gradient tracking and restores it', async () => {
  const { noGrad, isGradEnabled } = await import('../../src/torch/index.js');
  tidy(() => {
    const w = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => w.mul(2));
    assert.equal(y.requiresGrad, false);
    assert.equal(isGradEnabled(), true);
    assert.equal(w.mul(2).requiresGrad, true);
  });
});
