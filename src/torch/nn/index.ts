export { Module, StateDictError, type LoadResult } from './module.js';
export { Conv2d, Dropout, Embedding, GroupNorm, Lambda, LayerNorm, Linear, ModuleList, Sequential, type UnaryModule } from './layers.js';
