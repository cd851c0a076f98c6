/**
 * Loads the libtorch N-API addon (native/build/Release/t2i_torch.node). The raw binding is internal:
 * everything else goes through Tensor and the functions in src/torch/.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque native tensor handle (an N-API External). */
export type Handle = { readonly __brand: 'TensorHandle' };
/** An opaque native generator handle. */
export type GeneratorHandle = { readonly __brand: 'GeneratorHandle' };

// biome-ignore lint/suspicious/noExplicitAny: the raw binding is untyped; src/torch wraps it in types.
export type NativeBinding = Record<string, (...args: any[]) => any>;

function findAddon(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'native', 'build', 'Release', 't2i_torch.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(
    'The libtorch addon is not built. Run `npm run build:native` (needs `apt-get install libtorch-dev ' +
      'libopenblas0-openmp`, or LIBTORCH=/path/to/libtorch).',
  );
}

// OpenMP threads that busy-wait between parallel regions make every other libtorch process on the
// machine crawl (two processes with two spinning threads each on two cores ran 3-7x slower; a test
// file took 281 s instead of 18 s). Sleeping waits cost a single process little. libgomp reads this
// when it loads with the addon, so it is set before; OMP_WAIT_POLICY=ACTIVE in the environment wins.
process.env['OMP_WAIT_POLICY'] ??= 'PASSIVE';

const require = createRequire(import.meta.url);
export const native: NativeBinding = require(findAddon());
