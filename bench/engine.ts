/**
 * bench:engine — median milliseconds per full training step (zeroGrad, forward, backward, optimizer
 * step) of three fixed workloads (bench/workloads.ts), over at least 20 timed steps after warm-up.
 *   npm run bench:engine [-- --device cuda] [--steps 30] [--warmup 5]
 * The last line is JSON: {"libtorch": "<version>", "threads": N, "cases": {"conv": ms, "attn": ms, "mlp": ms}}.
 * bench/engine.py runs the same workloads in Python PyTorch; bench/engine-compare.ts prints the ratios.
 */
import { parseArgs } from 'node:util';
import { cudaSynchronize, getNumThreads, libtorchVersion } from '../src/torch/index.js';
import { attnWorkload, convWorkload, mlpWorkload, type Workload } from './workloads.js';

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cpu' },
    steps: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
  },
});
const device = values.device!;
const steps = Math.max(20, Number(values.steps));
const warmup = Number(values.warmup);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const cases: Record<string, number> = {};
for (const make of [convWorkload, attnWorkload, mlpWorkload]) {
  const w: Workload = make(device);
  for (let i = 0; i < warmup; i++) w.step();
  cudaSynchronize();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    w.step(); // item() inside waits for the device
    times.push(performance.now() - t0);
  }
  cases[w.name] = Number(median(times).toFixed(3));
  console.log(
    `${w.name.padEnd(5)} ${cases[w.name]!.toFixed(2).padStart(9)} ms/step (median of ${steps}, device ${device})`,
  );
  w.dispose();
}
console.log(JSON.stringify({ libtorch: libtorchVersion(), threads: getNumThreads(), cases }));
