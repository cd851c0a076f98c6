/** Tiny seeded model configs for the model tests (8-16 px, a few channels). */
import type { UNetConfig } from '../../src/models/unet.js';

export const TINY_UNET: UNetConfig = {
  sample_size: 8,
  in_channels: 3,
  out_channels: 3,
  block_out_channels: [8, 16],
  layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  cross_attention_dim: 12,
  attention_head_dim: 2,
  norm_num_groups: 4,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
};
