/**
 * `npm run bench:judge`: throughput of the world's judge on one core at 32x32, on clean renders and
 * on degraded ones (noise 0.05, 3x3 blur, +-1 px and +-0.08 color jitter), plus its accuracy on the
 * same images. Images are rendered first and not timed; the timed loop is judge + verdict on one
 * thread. The figure is images per CPU-second of this process (process.cpuUsage), which does not
 * drop when other processes share the cores; the wall-clock rate is printed beside it.
 *
 *   npm run bench:judge -- [--images 2000] [--seed 1]
 */
import { parseArgs } from 'node:util';
import { renderDegraded } from '../src/world/degrade.js';
import type { RGBImage } from '../src/world/image.js';
import { judgeImage } from '../src/world/judge.js';
import { type JudgeCase, randomCase } from '../src/world/judge_eval.js';
import { judgeTables, shapeTemplates } from '../src/world/judge_tables.js';
import { renderScene } from '../src/world/render.js';
import { Rng } from '../src/world/rng.js';
import { verdict } from '../src/world/verdict.js';

const { values } = parseArgs({
  options: { images: { type: 'string', default: '2000' }, seed: { type: 'string', default: '1' } },
});
const n = Number(values.images);
const seed = Number(values.seed);
if (!Number.isInteger(n) || n < 1)
  throw new Error(`--images must be a positive integer, got ${values.images}`);

const t0 = performance.now();
judgeTables();
shapeTemplates();
console.log(`tables built in ${(performance.now() - t0).toFixed(0)} ms (once per process)`);

for (const degraded of [false, true]) {
  const rng = new Rng(seed);
  const cases: Array<{ c: JudgeCase; image: RGBImage }> = [];
  for (let i = 0; i < n; i++) {
    const c = randomCase(rng);
    cases.push({ c, image: degraded ? renderDegraded(c.scene, rng) : renderScene(c.scene) });
  }
  for (const { image } of cases.slice(0, 50)) judgeImage(image); // warm-up (JIT)
  let exact = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  for (const { c, image } of cases) {
    const v = verdict(c.prompt, image);
    exact += +(v.label === c.truth.label && (v.label !== 'bad' || v.failed.join() === c.truth.failed.join()));
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - start) / 1000;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(
    `${degraded ? 'degraded' : 'clean   '}: ${(n / cpuSeconds).toFixed(0)} images per CPU-second (${((1000 * cpuSeconds) / n).toFixed(3)} ms CPU/image; wall clock ${(n / wall).toFixed(0)} images/s), exact verdicts ${((100 * exact) / n).toFixed(1)}% of ${n}`,
  );
}
