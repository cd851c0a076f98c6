/**
 * UNet2DConditionModel (diffusers), text-conditional noise predictor eps_theta(x_t, t, c).
 * Config fields and parameter names follow diffusers, so Stable Diffusion v1.5's `unet/` folder
 * (config.json + diffusion_pytorch_model.safetensors) maps onto this class.
 *
 * forward(sample [B, Cin, H, W], timesteps [B], context [B, S, cross_attention_dim]) -> [B, Cout, H, W]
 */
import { arange, cat, F, type Generator, nn, type Tensor } from '../torch/index.js';
import { DownBlock, type DownBlockType, MidBlock, UpBlock, type UpBlockType } from './unet_blocks.js';

export interface UNetConfig {
  sample_size: number;
  in_channels: number;
  out_channels: number;
  block_out_channels: number[];
  layers_per_block: number;
  down_block_types: DownBlockType[];
  up_block_types: UpBlockType[];
  cross_attention_dim: number;
  /** Number of attention heads per level (diffusers' historical name; SD v1.5: 8). */
  attention_head_dim: number | number[];
  norm_num_groups: number;
  norm_eps: number;
  flip_sin_to_cos: boolean;
  freq_shift: number;
}

/** The sprite world's UNet (DESIGN.md "Compute budget"): 32/64/64 channels, one resnet per level, attention only at 8x8. */
export const WORLD_UNET_CONFIG: UNetConfig = {
  sample_size: 32,
  in_channels: 3,
  out_channels: 3,
  block_out_channels: [32, 64, 64],
  layers_per_block: 1,
  down_block_types: ['DownBlock2D', 'DownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'],
  cross_attention_dim: 128,
  attention_head_dim: 4,
  norm_num_groups: 8,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
};

const KNOWN_DOWN = new Set(['DownBlock2D', 'CrossAttnDownBlock2D']);
const KNOWN_UP = new Set(['UpBlock2D', 'CrossAttnUpBlock2D']);

/** Checks a config read from disk; names the first bad field. */
export function validateUNetConfig(c: Partial<UNetConfig>): UNetConfig {
  const need = (k: keyof UNetConfig) => {
    if (c[k] === undefined) throw new Error(`UNet config: missing field "${k}"`);
  };
  for (const k of [
    'in_channels',
    'out_channels',
    'block_out_channels',
    'layers_per_block',
    'down_block_types',
    'up_block_types',
    'cross_attention_dim',
  ] as const)
    need(k);
  const n = c.block_out_channels!.length;
  if (c.down_block_types!.length !== n || c.up_block_types!.length !== n) {
    throw new Error(
      `UNet config: ${n} block_out_channels but ${c.down_block_types!.length} down and ${c.up_block_types!.length} up block types`,
    );
  }
  for (const t of c.down_block_types!)
    if (!KNOWN_DOWN.has(t)) throw new Error(`UNet config: unknown down block type "${t}"`);
  for (const t of c.up_block_types!)
    if (!KNOWN_UP.has(t)) throw new Error(`UNet config: unknown up block type "${t}"`);
  return {
    sample_size: c.sample_size ?? 32,
    in_channels: c.in_channels!,
    out_channels: c.out_channels!,
    block_out_channels: c.block_out_channels!,
    layers_per_block: c.layers_per_block!,
    down_block_types: c.down_block_types!,
    up_block_types: c.up_block_types!,
    cross_attention_dim: c.cross_attention_dim!,
    attention_head_dim: c.attention_head_dim ?? 8,
    norm_num_groups: c.norm_num_groups ?? 32,
    norm_eps: c.norm_eps ?? 1e-5,
    flip_sin_to_cos: c.flip_sin_to_cos ?? true,
    freq_shift: c.freq_shift ?? 0,
  };
}

/**
 * Sinusoidal timestep embedding (diffusers get_timestep_embedding): for i < dim/2,
 * freq_i = exp(-ln(10000) i / (dim/2 - shift)); emb = [sin(t freq), cos(t freq)] (cos first when flipped).
 * timesteps [B] -> [B, dim].
 */
export function timestepEmbedding(
  timesteps: Tensor,
  dim: number,
  flipSinToCos: boolean,
  shift: number,
): Tensor {
  const half = dim >> 1;
  const freqs = arange(0, half, 1, { device: timesteps.device })
    .mul(-Math.log(10000) / (half - shift))
    .exp();
  const args = timesteps.to('float32').unsqueeze(1).mul(freqs.unsqueeze(0));
  const sin = args.sin();
  const cos = args.cos();
  return flipSinToCos ? cat([cos, sin], 1) : cat([sin, cos], 1);
}

/** linear_1, SiLU, linear_2 (diffusers TimestepEmbedding). */
class TimestepEmbedding extends nn.Module {
  readonly linear_1: nn.Linear;
  readonly linear_2: nn.Linear;
  constructor(inDim: number, dim: number, g?: Generator) {
    super();
    this.linear_1 = this.registerModule('linear_1', new nn.Linear(inDim, dim, { generator: g }));
    this.linear_2 = this.registerModule('linear_2', new nn.Linear(dim, dim, { generator: g }));
  }
  forward(x: Tensor): Tensor {
    return this.linear_2.forward(F.silu(this.linear_1.forward(x)));
  }
}

export class UNet2DConditionModel extends nn.Module {
  readonly config: UNetConfig;
  readonly conv_in: nn.Conv2d;
  readonly time_embedding: TimestepEmbedding;
  readonly down_blocks: nn.ModuleList<DownBlock>;
  readonly mid_block: MidBlock;
  readonly up_blocks: nn.ModuleList<UpBlock>;
  readonly conv_norm_out: nn.GroupNorm;
  readonly conv_out: nn.Conv2d;

  constructor(config: UNetConfig, o: { generator?: Generator } = {}) {
    super();
    this.config = validateUNetConfig(config);
    const c = this.config;
    const g = o.generator;
    const ch = c.block_out_channels;
    const n = ch.length;
    const heads = (i: number) =>
      Array.isArray(c.attention_head_dim) ? c.attention_head_dim[i]! : c.attention_head_dim;
    const temb = ch[0]! * 4;
    this.conv_in = this.registerModule(
      'conv_in',
      new nn.Conv2d(c.in_channels, ch[0]!, 3, { padding: 1, generator: g }),
    );
    this.time_embedding = this.registerModule('time_embedding', new TimestepEmbedding(ch[0]!, temb, g));

    this.down_blocks = this.registerModule('down_blocks', new nn.ModuleList<DownBlock>());
    let out = ch[0]!;
    for (let i = 0; i < n; i++) {
      const inC = out;
      out = ch[i]!;
      const spec = {
        inChannels: inC,
        outChannels: out,
        tembChannels: temb,
        layers: c.layers_per_block,
        groups: c.norm_num_groups,
        eps: c.norm_eps,
        heads: heads(i),
        contextDim: c.cross_attention_dim,
        cross: c.down_block_types[i] === 'CrossAttnDownBlock2D',
      };
      this.down_blocks.push(new DownBlock(spec, i < n - 1, { generator: g }));
    }
    this.mid_block = this.registerModule(
      'mid_block',
      new MidBlock(ch[n - 1]!, temb, c.norm_num_groups, c.norm_eps, heads(n - 1), c.cross_attention_dim, {
        generator: g,
      }),
    );
    this.up_blocks = this.registerModule('up_blocks', new nn.ModuleList<UpBlock>());
    const rev = [...ch].reverse();
    const revHeads = ch.map((_, i) => heads(i)).reverse();
    let outUp = rev[0]!;
    for (let i = 0; i < n; i++) {
      const prev = outUp;
      outUp = rev[i]!;
      const inC = rev[Math.min(i + 1, n - 1)]!;
      const spec = {
        inChannels: inC,
        outChannels: outUp,
        prevOutputChannels: prev,
        tembChannels: temb,
        layers: c.layers_per_block,
        groups: c.norm_num_groups,
        eps: c.norm_eps,
        heads: revHeads[i]!,
        contextDim: c.cross_attention_dim,
        cross: c.up_block_types[i] === 'CrossAttnUpBlock2D',
      };
      this.up_blocks.push(new UpBlock(spec, i < n - 1, { generator: g }));
    }
    this.conv_norm_out = this.registerModule(
      'conv_norm_out',
      new nn.GroupNorm(c.norm_num_groups, ch[0]!, c.norm_eps),
    );
    this.conv_out = this.registerModule(
      'conv_out',
      new nn.Conv2d(ch[0]!, c.out_channels, 3, { padding: 1, generator: g }),
    );
  }

  /** sample [B, Cin, H, W], timesteps [B] (or one value for all), context [B, S, D] -> predicted noise (or v) [B, Cout, H, W]. */
  forward(sample: Tensor, timesteps: Tensor, context: Tensor): Tensor {
    const B = sample.size(0);
    const t = timesteps.ndim === 0 || timesteps.numel === 1 ? timesteps.reshape(1).expand(B) : timesteps;
    const tProj = timestepEmbedding(
      t,
      this.config.block_out_channels[0]!,
      this.config.flip_sin_to_cos,
      this.config.freq_shift,
    );
    const emb = this.time_embedding.forward(tProj.to({ dtype: sample.dtype }));
    let h = this.conv_in.forward(sample);
    const skips: Tensor[] = [h];
    for (const block of this.down_blocks) {
      const r = block.forward(h, emb, context);
      h = r.h;
      skips.push(...r.skips);
    }
    h = this.mid_block.forward(h, emb, context);
    for (const block of this.up_blocks) h = block.forward(h, skips, emb, context);
    return this.conv_out.forward(F.silu(this.conv_norm_out.forward(h)));
  }
}
