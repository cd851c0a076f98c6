/**
 * `npm run bench:method -- --run runs/quick`: measures the method issue's acceptance items on a run
 * that went through `feedback build`, `feedback simulate`, `reward train` and the fine-tunes:
 *
 *   1. reward model: held-out accuracy per category vs the CLIP-score baseline (>= 0.85 overall,
 *      better in every category, count by >= 15 points);
 *   2. rejection sampling: judged alignment of the best 4 of 16 candidates (by reward) vs 4 random
 *      samples (candidates 0..3) on the 120 evaluation prompts (seen: >= +15 points);
 *   3. fine-tuning: judged alignment (seen >= +20 points, unseen up), well-formed rate (drop <= 5
 *      points), and the Fréchet distance in world-CLIP space to held-out corpus renders (the beta = 0
 *      model worse than the full one), for the original and each fine-tuned model, 4 images per prompt
 *      with the same seeds for every model.
 *
 * Options: --run DIR, --base DIR (default: the run's original model), --reward DIR (default:
 * <run>/models/reward), --models finetuned,ft_no_pretrain (folders under <run>/models; the second is
 * the beta = 0 ablation), --items 1,2,3, --seed 0, --batch 64, --fd-images 2000, --device cpu,
 * --out FILE (default <run>/report/method_acceptance.json), --every N (every Nth evaluation prompt only,
 * for a quick look; the acceptance figures use all 120).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { evalItems, heldoutRenders, table4Texts } from '../src/eval/eval_set.js';
import { alignmentBySplit } from '../src/eval/evaluate.js';
import { frechetDistanceOfFeatures } from '../src/eval/frechet.js';
import { runBaseModel } from '../src/finetune/run_finetune.js';
import { tensorToImages } from '../src/models/images.js';
import { type LoadedPipeline, loadPipeline } from '../src/models/t2i_checkpoint.js';
import { embedImages } from '../src/reward/embeddings.js';
import { loadRewardFunction } from '../src/reward/reward_function.js';
import { rewardHeldOutAccuracy } from '../src/reward/run_reward.js';
import { candidateSeed, topK } from '../src/sampling/rejection.js';
import { openRunDb } from '../src/sampling/run.js';
import type { RGBImage } from '../src/world/image.js';
import { isWellFormed, verdict } from '../src/world/verdict.js';

const { values } = parseArgs({
  options: {
    run: { type: 'string' },
    base: { type: 'string' },
    reward: { type: 'string' },
    models: { type: 'string', default: 'finetuned,ft_no_pretrain' },
    items: { type: 'string', default: '1,2,3' },
    seed: { type: 'string', default: '0' },
    batch: { type: 'string', default: '64' },
    'fd-images': { type: 'string', default: '2000' },
    device: { type: 'string', default: 'cpu' },
    out: { type: 'string' },
    every: { type: 'string', default: '1' },
  },
});
const runDir = values.run;
if (!runDir) throw new Error('--run DIR is required');
const baseDir = values.base ?? runBaseModel(runDir) ?? 'checkpoints/world/base';
const rewardDir = values.reward ?? join(runDir, 'models', 'reward');
const items = new Set(values.items.split(',').map((s) => s.trim()));
const seed = Number(values.seed);
const batch = Number(values.batch);
const device = values.device;
const out = values.out ?? join(runDir, 'report', 'method_acceptance.json');
const every = Number(values.every);
const prompts = evalItems(table4Texts(every));
const report: Record<string, unknown> = { run: runDir, base: baseDir, reward: rewardDir, seed };
const checks: { item: string; what: string; ok: boolean }[] = [];
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const log = (s: string) => process.stderr.write(`${s}\n`);

/**
 * Share of images the judge calls good per split and category, as the evaluation scores it
 * (`alignmentBySplit`); images[i] belongs to prompts[i / per]. `all` is never null here: every
 * split this bench scores holds images.
 */
function alignment(images: readonly RGBImage[], per: number) {
  const good = prompts.map((p, i) =>
    images.slice(i * per, (i + 1) * per).map((img) => verdict(p.prompt, img).label === 'good'),
  );
  const a = alignmentBySplit(prompts, good);
  return {
    seen: { ...a.seen, all: a.seen.all ?? Number.NaN },
    unseen: { ...a.unseen, all: a.unseen.all ?? Number.NaN },
  };
}

function generateAll(pipe: LoadedPipeline, texts: string[], seeds: number[]): RGBImage[] {
  const outImages: RGBImage[] = [];
  const t0 = performance.now();
  for (let i = 0; i < texts.length; i += batch) {
    const t = pipe.pipeline.generate(texts.slice(i, i + batch), {
      seeds: seeds.slice(i, i + batch),
      batchSize: batch,
      ...pipe.config.sampler,
    });
    outImages.push(...tensorToImages(t));
    t.dispose();
    const done = Math.min(i + batch, texts.length);
    const rate = done / ((performance.now() - t0) / 1000);
    log(
      `  ${done}/${texts.length} images (${rate.toFixed(1)}/s, ETA ${((texts.length - done) / rate).toFixed(0)} s)`,
    );
  }
  return outImages;
}

// 1. reward model vs CLIP score on held-out labels
if (items.has('1')) {
  log('item 1: reward model vs CLIP score on held-out labels');
  const db = await openRunDb(runDir);
  try {
    const r = await rewardHeldOutAccuracy({ runDir, db, rewardDir, device });
    report['reward_model'] = r;
    const cats = ['count', 'color', 'background', 'combination', 'all'] as const;
    log(`  ${''.padEnd(12)} ${cats.map((c) => c.padStart(11)).join(' ')}`);
    log(`  ${'reward'.padEnd(12)} ${cats.map((c) => pct(r.reward[c]).padStart(11)).join(' ')}`);
    log(`  ${'CLIP score'.padEnd(12)} ${cats.map((c) => pct(r.clip_score[c]).padStart(11)).join(' ')}`);
    checks.push({
      item: '1',
      what: `held-out accuracy ${pct(r.reward.all)} >= 85%`,
      ok: r.reward.all >= 0.85,
    });
    for (const c of ['count', 'color', 'background', 'combination'] as const) {
      checks.push({
        item: '1',
        what: `${c}: reward ${pct(r.reward[c])} > CLIP ${pct(r.clip_score[c])}`,
        ok: r.reward[c] > r.clip_score[c],
      });
    }
    checks.push({
      item: '1',
      what: `count: reward - CLIP = ${(100 * (r.reward.count - r.clip_score.count)).toFixed(1)} points >= 15`,
      ok: r.reward.count - r.clip_score.count >= 0.15,
    });
  } finally {
    await db.close();
  }
}

// 2. rejection sampling: best 4 of 16 by reward vs the first 4 candidates
if (items.has('2')) {
  log('item 2: rejection sampling, best 4 of 16 vs 4 random samples, 120 evaluation prompts');
  const base = loadPipeline(baseDir, { device });
  const reward = loadRewardFunction(rewardDir, { device });
  const C = 16;
  const K = 4;
  const texts = prompts.flatMap((p) => new Array<string>(C).fill(p.text));
  const seeds = prompts.flatMap((_, i) => Array.from({ length: C }, (_, j) => candidateSeed(seed, i, C, j)));
  const images = generateAll(base, texts, seeds);
  const rewards = reward.scoreImages(images, texts);
  const best: RGBImage[] = [];
  const random: RGBImage[] = [];
  prompts.forEach((_, i) => {
    const r = rewards.subarray(i * C, (i + 1) * C);
    for (const j of topK(r, K)) best.push(images[i * C + j]!);
    for (let j = 0; j < K; j++) random.push(images[i * C + j]!);
  });
  const a = { best4of16: alignment(best, K), random4: alignment(random, K) };
  report['rejection'] = a;
  for (const s of ['seen', 'unseen'] as const)
    log(`  ${s}: random 4 ${pct(a.random4[s].all)}, best 4 of 16 ${pct(a.best4of16[s].all)}`);
  const gain = a.best4of16.seen.all - a.random4.seen.all;
  checks.push({
    item: '2',
    what: `seen alignment +${(100 * gain).toFixed(1)} points >= 15`,
    ok: gain >= 0.15,
  });
  reward.dispose();
  base.unet.dispose();
}

// 3. fine-tuned models vs the original
if (items.has('3')) {
  log('item 3: fine-tuned models vs the original, 4 images per evaluation prompt');
  const names = values.models
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const dirs: Record<string, string> = { original: baseDir };
  for (const n of names) {
    const d = join(runDir, 'models', n);
    if (existsSync(join(d, 'config.json'))) dirs[n] = d;
    else log(`  (no model ${d}; skipped)`);
  }
  const base = loadPipeline(baseDir, { device });
  const { loadCLIPModel } = await import('../src/models/clip.js');
  const clip = loadCLIPModel(base.textEncoderDir, { device });
  const fdN = Number(values['fd-images']);
  const refs = heldoutRenders(fdN, base.config.unet.sample_size);
  const refFeatures = embedImages(clip, refs);
  base.unet.dispose();
  const K = 4;
  const texts = prompts.flatMap((p) => new Array<string>(K).fill(p.text));
  const seeds = prompts.flatMap((_, i) => Array.from({ length: K }, (_, k) => seed + 1_000_000 + i * K + k));
  const results: Record<string, { alignment: ReturnType<typeof alignment>; wellformed: number; fd: number }> =
    {};
  for (const [name, dir] of Object.entries(dirs)) {
    log(` ${name} (${dir})`);
    const pipe = loadPipeline(dir, { device });
    const images = generateAll(pipe, texts, seeds);
    pipe.unet.dispose();
    const feats = embedImages(clip, images);
    results[name] = {
      alignment: alignment(images, K),
      wellformed: images.filter((im) => isWellFormed(im)).length / images.length,
      fd: frechetDistanceOfFeatures(feats, refFeatures),
    };
    feats.dispose();
    const r = results[name];
    log(
      `  seen ${pct(r.alignment.seen.all)}, unseen ${pct(r.alignment.unseen.all)}, well-formed ${pct(r.wellformed)}, FD ${r.fd.toFixed(4)}`,
    );
  }
  report['finetune'] = results;
  const o = results['original']!;
  const ft = results[names[0] ?? ''];
  if (ft) {
    const seenGain = ft.alignment.seen.all - o.alignment.seen.all;
    checks.push({
      item: '3',
      what: `seen alignment +${(100 * seenGain).toFixed(1)} points >= 20`,
      ok: seenGain >= 0.2,
    });
    checks.push({
      item: '3',
      what: `unseen alignment ${pct(o.alignment.unseen.all)} -> ${pct(ft.alignment.unseen.all)} rises`,
      ok: ft.alignment.unseen.all > o.alignment.unseen.all,
    });
    const drop = o.wellformed - ft.wellformed;
    checks.push({
      item: '3',
      what: `well-formed drop ${(100 * drop).toFixed(1)} points <= 5`,
      ok: drop <= 0.05,
    });
  }
  const noPre = results[names[1] ?? ''];
  if (ft && noPre)
    checks.push({
      item: '3',
      what: `FD without pretraining term ${noPre.fd.toFixed(4)} > with ${ft.fd.toFixed(4)}`,
      ok: noPre.fd > ft.fd,
    });
  refFeatures.dispose();
  clip.dispose();
}

report['checks'] = checks;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
for (const c of checks) process.stdout.write(`[${c.ok ? 'PASS' : 'FAIL'}] item ${c.item}: ${c.what}\n`);
process.stdout.write(`written ${out}\n`);
