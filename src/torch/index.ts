/**
 * t2i-align's tensor engine: libtorch through the project's N-API addon, with a PyTorch-shaped API.
 *
 * ```ts
 * import { tidy, randn, nn, optim, F } from './torch/index.js';
 * ```
 */

export * as F from './functional.js';
export { eigh, sqrtmSymmetric } from './linalg.js';
export * as nn from './nn/index.js';
export * as optim from './optim.js';
export { loadSafetensors, readSafetensorsHeader, SafetensorsError, saveSafetensors } from './safetensors.js';
export * from './tensor.js';
