/**
 * Leak test: 2,000 steps of the conv benchmark workload keep the live-tensor count flat, and the
 * resident set grows less than 50 MB after warm-up. RSS is read after releaseCachedMemory()
 * (malloc_trim), so that glibc's cached free pages, which swing by +-100 MB from step to step with
 * 4 MB activations, do not hide or fake a trend.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { convWorkload } from '../../bench/workloads.js';
import { liveTensors, releaseCachedMemory } from '../../src/torch/index.js';
import { DEVICE } from './helpers.js';

function rssMB(): number {
  globalThis.gc?.();
  releaseCachedMemory();
  return process.memoryUsage().rss / 2 ** 20;
}

test('2,000 conv training steps leak no tensors and keep RSS flat', { timeout: 600_000 }, () => {
  const w = convWorkload(DEVICE);
  for (let i = 0; i < 50; i++) w.step();
  const live0 = liveTensors();
  const rss0 = rssMB();
  let maxLive = live0;
  let maxGrowth = 0;
  for (let i = 1; i <= 2000; i++) {
    w.step();
    if (i % 100 === 0) {
      maxLive = Math.max(maxLive, liveTensors());
      maxGrowth = Math.max(maxGrowth, rssMB() - rss0);
    }
  }
  const live1 = liveTensors();
  const growth = rssMB() - rss0;
  process.stdout.write(
    `# leak: live tensors ${live0} -> ${live1} (max ${maxLive}); RSS ${rss0.toFixed(0)} MB, growth ${growth.toFixed(1)} MB (max ${maxGrowth.toFixed(1)})\n`,
  );
  assert.equal(live1, live0, 'live tensor count after 2,000 steps');
  assert.equal(maxLive, live0, 'live tensor count during the run');
  assert.ok(maxGrowth < 50 && growth < 50, `RSS grew ${growth.toFixed(1)} MB (max ${maxGrowth.toFixed(1)})`);
  w.dispose();
});

test('building and disposing modules leaves no tensor behind', async () => {
  const { nn } = await import('../../src/torch/index.js');
  const before = liveTensors();
  const m = new nn.Sequential(
    new nn.Linear(4, 8),
    new nn.Conv2d(3, 4, 3),
    new nn.Embedding(5, 2),
    new nn.LayerNorm(8),
    new nn.GroupNorm(2, 4),
  );
  assert.equal(liveTensors(), before + m.parameters().length);
  m.dispose();
  assert.equal(liveTensors(), before);
});
