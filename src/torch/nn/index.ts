export {
  Conv2d,
  Dropout,
  Embedding,
  GroupNorm,
  Lambda,
  LayerNorm,
  Linear,
  ModuleList,
  Sequential,
  type UnaryModule,
} from './layers.js';
export { type LoadResult, Module, StateDictError } from './module.js';
