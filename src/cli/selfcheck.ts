/**
 * `t2i-align selfcheck`: proves the tensor engine works on this machine — trains a tiny conv net to
 * reconstruct random images and prints the loss falling, then the engine's facts.
 */
import { numberOption, parseCommand } from './args.js';
import { UserError } from './errors.js';

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    {
      name: 'selfcheck',
      summary: 'train a tiny conv net on the tensor engine and print its loss falling',
      options: {
        steps: { type: 'string', default: '200', help: 'training steps' },
        device: { type: 'string', default: 'cpu', help: 'cpu, cuda or cuda:N' },
      },
    },
    argv,
  );
  if (!parsed) return 0;
  const steps = numberOption(parsed.values, 'steps', { integer: true, min: 10 });
  const device = String(parsed.values['device']);
  const torch = await import('../torch/index.js');
  if (device.startsWith('cuda') && !torch.cudaIsAvailable()) {
    throw new UserError(
      `--device ${device}: this libtorch has no CUDA device (build the addon with LIBTORCH pointing at a CUDA libtorch)`,
    );
  }
  const { nn, optim, randn, tidy, Generator } = torch;
  const g = new Generator(0);
  const relu = () => new nn.Lambda((x) => x.relu());
  const net = new nn.Sequential(
    new nn.Conv2d(3, 16, 3, { padding: 1, generator: g }),
    relu(),
    new nn.Conv2d(16, 16, 3, { padding: 1, generator: g }),
    relu(),
    new nn.Conv2d(16, 3, 3, { padding: 1, generator: g }),
  ).to({ device });
  const x = randn([16, 3, 16, 16], { generator: g, device });
  const opt = new optim.Adam(net.parameters(), { lr: 3e-3 });
  const t0 = performance.now();
  let first = 0;
  let last = 0;
  for (let i = 0; i < steps; i++) {
    last = tidy(() => {
      opt.zeroGrad();
      const loss = net.forward(x).sub(x).square().mean();
      loss.backward();
      opt.step();
      return loss.item();
    });
    if (i === 0) first = last;
    if (i % Math.max(1, Math.floor(steps / 10)) === 0 || i === steps - 1) {
      process.stdout.write(`step ${String(i + 1).padStart(5)}/${steps}  loss ${last.toFixed(5)}\n`);
    }
  }
  const ms = (performance.now() - t0) / steps;
  process.stdout.write(
    `libtorch ${torch.libtorchVersion()}, ${torch.getNumThreads()} threads, device ${device}, ${ms.toFixed(1)} ms/step, ` +
      `${net.numParameters()} parameters\n`,
  );
  const ok = last < first / 2;
  process.stdout.write(
    ok
      ? `selfcheck passed: loss fell from ${first.toFixed(4)} to ${last.toFixed(4)}\n`
      : `selfcheck FAILED: loss ${first} -> ${last}\n`,
  );
  return ok ? 0 : 1;
}
