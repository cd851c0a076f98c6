/**
 * `npm run bench:count-probe -- --run runs/quick --clip checkpoints/world/clip[,OTHER...]`: how much
 * of the count of *generated* images a CLIP image embedding holds (docs/method.md, "Where the ceiling
 * is"). The reward model can read counts only as well as the embedding carries them.
 *
 * Images: the run's count and combination feedback images in which the judge finds only objects of
 * the prompt's class; the target is the judge's count (1..6, 7 for seven or more). For each CLIP:
 *   - generated, 5-fold: a linear softmax probe (standardised features, L2 1e-2, 300 full-batch
 *     AdamW steps) trained on 4 folds of the generated images, tested on the 5th;
 *   - renders -> generated: the probe trained on 4,000 held-out corpus renders (counts 1..6, corpus
 *     seed HELDOUT_SEED + 17, never used for training), tested on every generated image;
 *   - renders -> renders: the same probe on 1,000 further renders.
 * --loose-layout-prob P draws the renders with that share of loose layouts (corpus looseLayoutProb).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCLIPModel } from '../src/models/clip.js';
import { embedImages } from '../src/reward/embeddings.js';
import { loadLabeledExamples } from '../src/reward/run_reward.js';
import { openRunDb } from '../src/sampling/run.js';
import { F, fromTypedArray, Generator, nn, noGrad, optim, type Tensor, tidy } from '../src/torch/index.js';
import { corpusBatch, DEFAULT_CORPUS, HELDOUT_SEED } from '../src/world/corpus.js';
import type { RGBImage } from '../src/world/image.js';
import { judgeImage } from '../src/world/judge.js';
import { readPng } from '../src/world/png.js';
import { parsePrompt } from '../src/world/prompt.js';

const { values } = parseArgs({
  options: {
    run: { type: 'string' },
    clip: { type: 'string', default: 'checkpoints/world/clip' },
    'loose-layout-prob': { type: 'string', default: '0' },
  },
});
function fail(message: string): never {
  process.stderr.write(`bench:count-probe: ${message}\n`);
  process.exit(2);
}
const runDir = values.run ?? fail('--run DIR is required (a run with labeled feedback images)');
if (!existsSync(runDir)) fail(`${runDir}: no such run folder`);
const clips = values.clip.split(',').map((s) => s.trim());
for (const c of clips)
  if (!existsSync(join(c, 'config.json'))) fail(`--clip ${c}: not a CLIP checkpoint folder`);
const looseLayoutProb = Number(values['loose-layout-prob']);
if (!(looseLayoutProb >= 0 && looseLayoutProb <= 1)) fail('--loose-layout-prob must be in [0, 1]');

const db = await openRunDb(runDir);
const examples = await loadLabeledExamples(db);
await db.close();
const gen: { image: RGBImage; count: number }[] = [];
for (const e of examples) {
  if (e.category !== 'count' && e.category !== 'combination') continue;
  const image = readPng(join(runDir, e.imagePath));
  const j = judgeImage(image);
  const object = parsePrompt(e.prompt).object;
  if (j.count === 0 || !j.objects.every((o) => o.object === object)) continue;
  gen.push({ image, count: Math.min(j.count, 7) });
}
if (gen.length < 50) fail(`${runDir}: only ${gen.length} usable count images; run the quick preset`);
const hist = [1, 2, 3, 4, 5, 6, 7].map((k) => gen.filter((g) => g.count === k).length);
console.log(`${gen.length} generated images; judged counts 1, 2, 3, 4, 5, 6, 7+: ${hist.join(', ')}`);
const renders = corpusBatch(
  { ...DEFAULT_CORPUS, seed: HELDOUT_SEED + 17, ...(looseLayoutProb > 0 ? { looseLayoutProb } : {}) },
  0,
  5000,
);

/** Accuracy on the test rows of a multinomial logistic regression fit on the training rows. */
function probe(xTr: Tensor, yTr: readonly number[], xTe: Tensor, yTe: readonly number[]): number {
  return tidy(() => {
    const mu = xTr.mean(0, true);
    const sd = xTr.sub(mu).square().mean(0, true).sqrt().add(1e-6);
    const a = xTr.sub(mu).div(sd);
    const b = xTe.sub(mu).div(sd);
    const lin = new nn.Linear(a.size(1), 8, { generator: new Generator(0) });
    const opt = new optim.AdamW(lin.parameters(), { lr: 0.05, weightDecay: 0 });
    const target = fromTypedArray(BigInt64Array.from(yTr, BigInt), [yTr.length]);
    for (let s = 0; s < 300; s++) {
      tidy(() => {
        opt.zeroGrad();
        const w = lin.parameters()[0]!;
        F.crossEntropy(lin.forward(a), target)
          .add(
            w
              .square()
              .sum()
              .mul(1e-2 / 2),
          )
          .backward();
        opt.step();
      });
    }
    opt.dispose();
    const pred = noGrad(() => lin.forward(b).argmax(-1).toArray());
    return yTe.filter((y, i) => pred[i] === y).length / yTe.length;
  });
}
const rows = (x: Tensor, ix: number[]) =>
  x.indexSelect(0, fromTypedArray(BigInt64Array.from(ix, BigInt), [ix.length]));
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const yg = gen.map((g) => g.count);
const yr = renders.map((r) => r.scene.objects.length);
for (const clipDir of clips) {
  const clip = loadCLIPModel(clipDir);
  const eg = embedImages(
    clip,
    gen.map((g) => g.image),
  );
  const er = embedImages(
    clip,
    renders.map((r) => r.image),
  );
  let right = 0;
  for (let f = 0; f < 5; f++) {
    const tr = yg.flatMap((_, i) => (i % 5 !== f ? [i] : []));
    const te = yg.flatMap((_, i) => (i % 5 === f ? [i] : []));
    right +=
      probe(
        rows(eg, tr),
        tr.map((i) => yg[i]!),
        rows(eg, te),
        te.map((i) => yg[i]!),
      ) * te.length;
  }
  const rTr = er.slice(0, 0, 4000);
  const rTe = er.slice(0, 4000, 5000);
  const onGen = probe(rTr, yr.slice(0, 4000), eg, yg);
  const onRenders = probe(rTr, yr.slice(0, 4000), rTe, yr.slice(4000));
  console.log(
    `${clipDir}: generated, 5-fold ${pct(right / yg.length)}; renders -> generated ${pct(onGen)}; renders -> renders ${pct(onRenders)}`,
  );
  for (const t of [eg, er, rTr, rTe]) t.dispose();
  clip.dispose();
}
