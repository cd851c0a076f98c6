/**
 * bench:engine:compare — runs bench/engine.py (Python PyTorch) and bench/engine.ts (this engine)
 * alternately on the same libtorch, thread count and environment, `--rounds` times each, and prints
 * the TS/Python ratio of the per-case medians. Skips itself (exit 0) where Python torch is absent.
 *   npm run bench:engine:compare [-- --python /usr/bin/python3] [--rounds 3] [--device cpu] [--wait-policy PASSIVE]
 * Both sides run with the same OpenMP wait policy: PASSIVE (the engine's default, see
 * src/torch/native.ts), ACTIVE, or `default` (libgomp's own: spin a while, then sleep).
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    python: { type: 'string', default: process.env['PYTHON'] ?? '/usr/bin/python3' },
    rounds: { type: 'string', default: '3' },
    device: { type: 'string', default: 'cpu' },
    'wait-policy': { type: 'string', default: process.env['OMP_WAIT_POLICY'] || 'PASSIVE' },
  },
});
const policy = values['wait-policy']!;
if (!['PASSIVE', 'ACTIVE', 'default'].includes(policy))
  throw new Error(`--wait-policy must be PASSIVE, ACTIVE or default, got ${policy}`);
// an empty OMP_WAIT_POLICY is ignored by libgomp (its default applies) and kept by the engine
const ompWaitPolicy = policy === 'default' ? '' : policy;
const threads = String(Number(process.env['T2I_THREADS']) || availableParallelism());
type Result = { libtorch: string; threads: number; cases: Record<string, number> };

function run(cmd: string, args: string[]): Result {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: { ...process.env, T2I_THREADS: threads, OMP_WAIT_POLICY: ompWaitPolicy },
  });
  if (r.status === 3) {
    console.log(`bench:engine:compare: skipped (${values.python} has no torch)`);
    process.exit(0);
  }
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').at(-1)!;
  return JSON.parse(last) as Result;
}

const py: Result[] = [];
const ts: Result[] = [];
for (let i = 0; i < Number(values.rounds); i++) {
  py.push(run(values.python!, ['bench/engine.py', '--threads', threads, '--device', values.device!]));
  ts.push(run(process.execPath, ['--import', 'tsx', 'bench/engine.ts', '--device', values.device!]));
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(
  `python torch ${py[0]!.libtorch}, engine libtorch ${ts[0]!.libtorch}, threads ${threads}, OpenMP wait policy ${policy}, ${values.rounds} alternating rounds`,
);
console.log('case    python ms   ts ms   ratio');
const ratios: Record<string, number> = {};
for (const name of Object.keys(py[0]!.cases)) {
  const p = med(py.map((r) => r.cases[name]!));
  const t = med(ts.map((r) => r.cases[name]!));
  ratios[name] = Number((t / p).toFixed(3));
  console.log(
    `${name.padEnd(6)} ${p.toFixed(2).padStart(10)} ${t.toFixed(2).padStart(7)} ${ratios[name]!.toFixed(3).padStart(7)}`,
  );
}
console.log(JSON.stringify({ threads: Number(threads), waitPolicy: policy, ratios }));
