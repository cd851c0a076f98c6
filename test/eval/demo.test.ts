/**
 * `t2i-align demo --preset smoke` end to end, as a user runs it (a child process), then
 * `t2i-align evaluate` on its run. With the shipped checkpoints (checkpoints/world/base) the demo
 * runs on them and must finish within 3 minutes; without them it runs on tiny random checkpoints
 * (8x8 images, 2 sampler steps), which tests the plumbing and not the figures.
 *
 *  - stopped after the reward stage (--until), then resumed: the first stages are skipped;
 *  - metrics.json validates against the full contract; the panels stored in feedback.db match it;
 *  - the report opens in headless Chromium with every table, plot and grid;
 *  - a third call skips every stage; another preset in the same folder is refused;
 *  - evaluate: the demo's models on its prompts (images and comparisons reused), a prompt file of
 *    its own, and a samples folder made on other prompts (refused).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { metricsErrors, PAPER_PANELS, validateMetrics } from '../../src/eval/metrics.js';
import { DEMO_PRESETS } from '../../src/eval/presets.js';
import { openRunDb } from '../../src/sampling/run.js';
import { REPO, runCli, tempDir, tinyCheckpoints } from '../method/fixtures.js';
import { CHROMIUM, openReport, REPORT_PLOTS, REPORT_TABLES } from './chromium.js';

const SHIPPED = join(REPO, 'checkpoints', 'world', 'base');
const shipped = existsSync(join(SHIPPED, 'config.json'));
/**
 * The smoke demo's limit with the shipped checkpoints: only the child's timeout here; the time itself is
 * measured by `npm run bench:smoke` (a wall-clock assert fails on a busy machine).
 */
const SMOKE_LIMIT_S = 180;

let dir: string;
let run: string;
let model: string;
let demoSeconds = 0;

before(() => {
  dir = tempDir('t2i-demo-');
  run = join(dir, 'run');
  model = shipped ? SHIPPED : tinyCheckpoints(dir).baseDir;
});
after(() => rmSync(dir, { recursive: true, force: true }));

const demo = (extra: string[] = []) =>
  runCli(['demo', '--preset', 'smoke', '--out', run, '--model', model, ...extra], {
    timeoutMs: (shipped ? SMOKE_LIMIT_S + 60 : 120) * 1000,
  });

/**
 * The fixture every test below reads: one smoke demo, stopped after the reward model and resumed to
 * the report, made here rather than by the first test, so that any test can run on its own
 * (`--test-name-pattern`). The first test checks how the two calls went.
 */
let first: Awaited<ReturnType<typeof demo>>;
let afterReward: { rewardMetrics: boolean; samples: boolean };
let second: Awaited<ReturnType<typeof demo>>;
before(async () => {
  const t0 = performance.now();
  first = await demo(['--until', 'reward']);
  afterReward = {
    rewardMetrics: existsSync(join(run, 'models', 'reward', 'metrics.json')),
    samples: existsSync(join(run, 'samples')),
  };
  second = first.code === 0 ? await demo() : first;
  demoSeconds = (performance.now() - t0) / 1000;
});

test('demo --preset smoke: stopped after the reward model, then resumed to the report', async (t) => {
  assert.equal(first.code, 0, first.stderr);
  for (const [i, stage] of ['feedback', 'labels', 'reward'].entries())
    assert.match(first.stderr, new RegExp(`demo \\[${i + 1}/9\\] ${stage}: `));
  assert.doesNotMatch(first.stderr, /demo \[4\/9\]/);
  assert.ok(afterReward.rewardMetrics);
  assert.ok(!afterReward.samples);

  assert.equal(second.code, 0, second.stderr);
  for (const stage of ['feedback', 'labels', 'reward'])
    assert.match(second.stderr, new RegExp(`\\] ${stage}: .*: complete, skipped`));
  for (const stage of [
    'rejection',
    'finetuned',
    'ft_no_pretrain',
    'ft_no_unlabeled_no_pretrain',
    'evaluate',
    'report',
  ])
    assert.match(second.stderr, new RegExp(`demo: ${stage} done in `));
  // every stage shows progress
  assert.match(second.stderr, /sample: \d+\/128 candidates/);
  assert.match(second.stderr, /finetune finetuned: step 12\/12 loss/);
  assert.match(second.stderr, /evaluate: sampling finetuned: 32\/32 images/);
  // the original's evaluation images are rejection sampling's first 4 candidates (same seeds):
  // copied, not sampled again
  assert.doesNotMatch(second.stderr, /evaluate: sampling original:/);
  for (const name of ['0000-0.png', '0007-3.png']) {
    assert.deepEqual(
      readFileSync(join(run, 'images', 'eval', 'original', name)),
      readFileSync(join(run, 'samples', 'rejection16to4', 'first', name)),
    );
  }
  // the summary table
  assert.match(second.stdout, /model\s+seen\s+unseen\s+wellformed\s+reward\s+CLIP\s+FD/);
  assert.match(second.stdout, /^rejection16to4\s+\d+\.\d%/m);
  assert.match(second.stdout, /^finetuned_vs_original\s+\d+\.\d%\s+\d+\.\d%/m);
  assert.match(second.stdout, /^reward model\s/m);
  t.diagnostic(
    `smoke demo on ${shipped ? 'the shipped checkpoints' : 'tiny random checkpoints'}: ${demoSeconds.toFixed(1)} s`,
  );

  // the resolved config is in the run
  const cfg = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
  assert.equal(cfg['demo']!['preset'], 'smoke');
  assert.deepEqual(cfg['demo']!['sizes'], JSON.parse(JSON.stringify(DEMO_PRESETS.smoke)));
  assert.equal(cfg['demo']!['model'], model);
  assert.equal(cfg['evaluation']!['done'], true);
  for (const key of ['feedback', 'labels', 'reward', 'finetune'])
    assert.ok(cfg[key], `config.json has "${key}"`);
});

test('the smoke demo metrics.json follows the contract, and feedback.db holds the same panels', async () => {
  const metrics = validateMetrics(JSON.parse(readFileSync(join(run, 'report', 'metrics.json'), 'utf8')), {
    complete: true,
  });
  assert.equal(metrics.preset, 'smoke');
  assert.deepEqual(
    metrics.reward_model!.size_ablation.map((r) => r.fraction),
    [0.1, 0.25, 0.5, 1],
  );
  // 8 prompts: every 15th of Table 4 (4 seen, 4 unseen); the seen ones hold no combination prompt
  assert.equal(metrics.models['original']!.alignment.seen.combination, null);
  const db = await openRunDb(run);
  try {
    const stored = await db.panelResults();
    for (const p of PAPER_PANELS) {
      assert.equal(stored[p]!.complete, 8, p);
      for (const q of ['alignment', 'fidelity'] as const) {
        stored[p]![q].votes_hist.forEach((x, k) => {
          assert.ok(Math.abs(x - metrics.panel[p]![q].votes_hist[k]!) < 1e-12, `${p} ${q} [${k}]`);
        });
        assert.ok(Math.abs(stored[p]![q].win_7plus - metrics.panel[p]![q].win_7plus) < 1e-12);
      }
    }
    // 5 models x 8 prompts x 4 images registered for the web app
    assert.equal((await db.listImages({ purpose: 'eval' })).length, 160);
  } finally {
    await db.close();
  }
});

test('the smoke demo report opens in headless Chromium with every table, plot and grid', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed`,
}, async () => {
  const page = await openReport(join(run, 'report'));
  for (const table of REPORT_TABLES) assert.ok((page.tableRows[table] ?? 0) > 0, table);
  for (const plot of REPORT_PLOTS) assert.ok((page.plots[plot] ?? 0) > 100, plot);
  assert.equal(page.grids.length, 8);
});

test('a finished demo skips every stage; another preset in the same folder is refused', async () => {
  const again = await demo();
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stderr.match(/: complete, skipped/g) ?? []).length, 9);
  const other = await runCli(['demo', '--preset', 'quick', '--out', run, '--model', model]);
  assert.equal(other.code, 2);
  assert.equal(other.stderr.trim().split('\n').length, 1);
  assert.match(other.stderr, /holds a demo made with other settings \(preset smoke/);
  const missing = await runCli(['demo', '--out', join(dir, 'x'), '--model', join(dir, 'nothing')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no text-to-image checkpoint there/);
});

test('evaluate: the demo models on its prompts, a prompt file of its own, a mismatched samples folder', async () => {
  const help = await runCli(['evaluate', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--fd-images <value>.*\(default: "2000"\)/);
  assert.match(help.stdout, /--config <value>/);

  // the demo's 8 prompts: its images (same seeds) and its comparisons are reused
  const out = join(dir, 'eval-same');
  const same = await runCli([
    'evaluate',
    '--run',
    run,
    '--models',
    'original,finetuned,rejection16to4',
    '--every',
    '15',
    '--out',
    out,
    '--fd-images',
    '50',
    '--ablation',
    'none',
    '--preset',
    'check',
  ]);
  assert.equal(same.code, 0, same.stderr);
  assert.doesNotMatch(same.stderr, /evaluate: sampling/);
  assert.doesNotMatch(same.stderr, /comparisons and .* votes stored/);
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual(metricsErrors(m), []);
  assert.equal(m.preset, 'check');
  assert.deepEqual(Object.keys(m.panel).sort(), [...PAPER_PANELS].sort());
  const demoMetrics = JSON.parse(readFileSync(join(run, 'report', 'metrics.json'), 'utf8'));
  // same images, same judge, same reward model: the same alignment and reward
  assert.deepEqual(m.models.finetuned.alignment, demoMetrics.models.finetuned.alignment);
  assert.ok(Math.abs(m.models.finetuned.reward_mean - demoMetrics.models.finetuned.reward_mean) < 1e-6);
  assert.ok(existsSync(join(out, 'index.html')));
  // the resolved settings, beside the report and in the run
  const resolved = JSON.parse(readFileSync(join(out, 'evaluate.json'), 'utf8'));
  assert.equal(resolved.items, 8);
  assert.deepEqual(
    resolved.models.map((x: { name: string; kind: string }) => `${x.name}:${x.kind}`),
    ['original:pipeline', 'finetuned:pipeline', 'rejection16to4:samples'],
  );
  assert.deepEqual(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'))['evaluate'], resolved);

  // any prompt file in the world grammar (a prompt outside Table 4 too), its own images folder
  const prompts = join(dir, 'prompts.txt');
  writeFileSync(
    prompts,
    '# two prompts\nTwo blue cats in the desert.\n{"prompt": "A green colored wolf."}\n',
  );
  const own = join(dir, 'eval-own');
  const custom = await runCli([
    'evaluate',
    '--run',
    run,
    '--models',
    'original,finetuned',
    '--prompts',
    prompts,
    '--out',
    own,
    '--fd-images',
    '20',
    '--ablation',
    'none',
    '--images',
    join(run, 'images', 'eval-own'),
  ]);
  assert.equal(custom.code, 0, custom.stderr);
  const c = JSON.parse(readFileSync(join(own, 'metrics.json'), 'utf8'));
  assert.deepEqual(metricsErrors(c), []);
  assert.deepEqual(Object.keys(c.panel), ['finetuned_vs_original']);
  assert.notEqual(c.models.original.alignment.seen.combination, null);
  assert.notEqual(c.models.original.alignment.unseen.color, null);
  assert.ok(c.reward_model, 'the run has labels: the reward-model section is measured');

  // the rejection samples were drawn on other prompts: refused in one line
  const bad = await runCli([
    'evaluate',
    '--run',
    run,
    '--models',
    'original,rejection16to4',
    '--prompts',
    prompts,
    '--out',
    join(dir, 'eval-bad'),
    '--images',
    join(run, 'images', 'eval-own'),
    '--ablation',
    'none',
  ]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').pop()!.startsWith('t2i-align evaluate: '), true);
  assert.match(bad.stderr, /no image of rank 0 for prompt 0 "Two blue cats in the desert\."/);
  const unknown = await runCli(['evaluate', '--run', run, '--models', 'nonesuch']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /cannot find model "nonesuch"/);
});
