/**
 * bench:smoke — the two time limits of the shipped checkpoints, measured here rather than asserted in
 * the test suite (a wall-clock assert fails on a busy machine and says nothing about the code):
 *  - the shipped original samples one image per category (limit: a minute);
 *  - `t2i-align demo --preset smoke` end to end in a fresh folder (limit: 3 minutes).
 * It prints both times next to their limits and the machine's thread count.
 *   npm run bench:smoke [-- --skip-demo]
 * The last line is JSON.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPipeline } from '../src/models/t2i_checkpoint.js';
import { getNumThreads } from '../src/torch/index.js';

const { values } = parseArgs({ options: { 'skip-demo': { type: 'boolean', default: false } } });
const BASE = 'checkpoints/world/base';

const t0 = performance.now();
const { pipeline, config } = loadPipeline(BASE);
const images = pipeline.generate(
  ['Two dogs.', 'A green colored apple.', 'A cake on the moon.', 'Three blue cars in the forest.'],
  { seeds: [0, 1, 2, 3], ...config.sampler },
);
images.dispose();
const sampleSeconds = (performance.now() - t0) / 1000;
console.log(
  `shipped original, load + 4 images: ${sampleSeconds.toFixed(1)} s (limit 60 s), ${getNumThreads()} threads`,
);

let demoSeconds: number | null = null;
if (!values['skip-demo']) {
  const dir = mkdtempSync(join(tmpdir(), 't2i-bench-smoke-'));
  try {
    const t1 = performance.now();
    const r = spawnSync(
      process.execPath,
      ['bin/t2i-align.js', 'demo', '--preset', 'smoke', '--out', join(dir, 'run')],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    demoSeconds = (performance.now() - t1) / 1000;
    if (r.status !== 0) throw new Error(`demo --preset smoke exited with ${r.status}`);
    console.log(`demo --preset smoke: ${demoSeconds.toFixed(1)} s (limit 180 s)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(JSON.stringify({ sampleSeconds, demoSeconds, threads: getNumThreads() }));
