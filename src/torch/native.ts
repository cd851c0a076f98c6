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

const require = createRequire(import.meta.url);
export const native: NativeBinding = require(findAddon());
