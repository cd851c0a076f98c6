/**
 * The building blocks of diffusers' UNet2DConditionModel, with diffusers' parameter names
 * (`resnets.0.conv1.weight`, `attentions.0.transformer_blocks.0.attn2.to_k.weight`, ...), so that the
 * same classes load Stable Diffusion v1.5's UNet weights.
 *
 * Shapes: feature maps [B, C, H, W]; the time embedding temb [B, T]; the text context [B, S, Dctx].
 */
import { cat, F, type Generator, nn, type Tensor } from '../torch/index.js';

export interface BlockInit {
  generator?: Generator;
}

/** Two 3x3 convs with GroupNorm + SiLU, the time embedding added after the first (diffusers ResnetBlock2D). */
export class ResnetBlock2D extends nn.Module {
  readonly norm1: nn.GroupNorm;
  readonly conv1: nn.Conv2d;
  readonly time_emb_proj: nn.Linear;
  readonly norm2: nn.GroupNorm;
  readonly conv2: nn.Conv2d;
  readonly conv_shortcut: nn.Conv2d | null;
  constructor(
    inChannels: number,
    outChannels: number,
    tembChannels: number,
    groups: number,
    eps: number,
    o: BlockInit = {},
  ) {
    super();
    const g = o.generator;
    this.norm1 = this.registerModule('norm1', new nn.GroupNorm(groups, inChannels, eps));
    this.conv1 = this.registerModule(
      'conv1',
      new nn.Conv2d(inChannels, outChannels, 3, { padding: 1, generator: g }),
    );
    this.time_emb_proj = this.registerModule(
      'time_emb_proj',
      new nn.Linear(tembChannels, outChannels, { generator: g }),
    );
    this.norm2 = this.registerModule('norm2', new nn.GroupNorm(groups, outChannels, eps));
    this.conv2 = this.registerModule(
      'conv2',
      new nn.Conv2d(outChannels, outChannels, 3, { padding: 1, generator: g }),
    );
    this.conv_shortcut =
      inChannels !== outChannels
        ? this.registerModule('conv_shortcut', new nn.Conv2d(inChannels, outChannels, 1, { generator: g }))
        : null;
  }
  forward(x: Tensor, temb: Tensor): Tensor {
    let h = this.conv1.forward(F.silu(this.norm1.forward(x)));
    h = h.add(this.time_emb_proj.forward(F.silu(temb)).unsqueeze(-1).unsqueeze(-1));
    h = this.conv2.forward(F.silu(this.norm2.forward(h)));
    const skip = this.conv_shortcut ? this.conv_shortcut.forward(x) : x;
    return skip.add(h);
  }
}

/** Multi-head attention (diffusers Attention): to_q/to_k/to_v without bias, to_out.0 with bias. */
export class Attention extends nn.Module {
  readonly to_q: nn.Linear;
  readonly to_k: nn.Linear;
  readonly to_v: nn.Linear;
  readonly to_out: nn.ModuleList<nn.Linear>;
  constructor(
    queryDim: number,
    contextDim: number,
    readonly heads: number,
    headDim: number,
    o: BlockInit = {},
  ) {
    super();
    const inner = heads * headDim;
    const g = o.generator;
    this.to_q = this.registerModule('to_q', new nn.Linear(queryDim, inner, { bias: false, generator: g }));
    this.to_k = this.registerModule('to_k', new nn.Linear(contextDim, inner, { bias: false, generator: g }));
    this.to_v = this.registerModule('to_v', new nn.Linear(contextDim, inner, { bias: false, generator: g }));
    // to_out.1 is a Dropout in diffusers: it has no parameters, so only to_out.0 is registered.
    this.to_out = this.registerModule(
      'to_out',
      new nn.ModuleList([new nn.Linear(inner, queryDim, { generator: g })]),
    );
  }
  /** x [B, N, Dq], context [B, S, Dctx] (self-attention when omitted) -> [B, N, Dq]. */
  forward(x: Tensor, context?: Tensor): Tensor {
    const ctx = context ?? x;
    const [B, N] = x.shape as [number, number, number];
    const S = ctx.size(1);
    const split = (t: Tensor, L: number) => t.view(B, L, this.heads, -1).transpose(1, 2);
    const q = split(this.to_q.forward(x), N);
    const k = split(this.to_k.forward(ctx), S);
    const v = split(this.to_v.forward(ctx), S);
    const a = F.scaledDotProductAttention(q, k, v);
    return this.to_out.at(0).forward(a.transpose(1, 2).reshape(B, N, -1));
  }
}

/** GEGLU feed-forward (diffusers FeedForward): net.0.proj Linear(dim, 2*inner), GELU gate, net.2 Linear(inner, dim). */
export class GEGLU extends nn.Module {
  readonly proj: nn.Linear;
  constructor(dim: number, inner: number, o: BlockInit = {}) {
    super();
    this.proj = this.registerModule('proj', new nn.Linear(dim, inner * 2, { generator: o.generator }));
  }
  forward(x: Tensor): Tensor {
    const [h, gate] = this.proj.forward(x).chunk(2, -1) as [Tensor, Tensor];
    return h.mul(F.gelu(gate));
  }
}

export class FeedForward extends nn.Module {
  readonly net: nn.ModuleList;
  readonly geglu: GEGLU;
  readonly out: nn.Linear;
  constructor(dim: number, mult = 4, o: BlockInit = {}) {
    super();
    this.geglu = new GEGLU(dim, dim * mult, o);
    this.out = new nn.Linear(dim * mult, dim, { generator: o.generator });
    // net.1 is a Dropout in diffusers (no parameters); keep the indices aligned with diffusers' names.
    this.net = this.registerModule('net', new nn.ModuleList());
    this.net.push(this.geglu);
    this.net.push(new nn.Dropout(0));
    this.net.push(this.out);
  }
  forward(x: Tensor): Tensor {
    return this.out.forward(this.geglu.forward(x));
  }
}

/** Self-attention, cross-attention to the text, GEGLU feed-forward; pre-LayerNorm residuals. */
export class BasicTransformerBlock extends nn.Module {
  readonly norm1: nn.LayerNorm;
  readonly attn1: Attention;
  readonly norm2: nn.LayerNorm;
  readonly attn2: Attention;
  readonly norm3: nn.LayerNorm;
  readonly ff: FeedForward;
  constructor(dim: number, heads: number, headDim: number, contextDim: number, o: BlockInit = {}) {
    super();
    this.norm1 = this.registerModule('norm1', new nn.LayerNorm(dim));
    this.attn1 = this.registerModule('attn1', new Attention(dim, dim, heads, headDim, o));
    this.norm2 = this.registerModule('norm2', new nn.LayerNorm(dim));
    this.attn2 = this.registerModule('attn2', new Attention(dim, contextDim, heads, headDim, o));
    this.norm3 = this.registerModule('norm3', new nn.LayerNorm(dim));
    this.ff = this.registerModule('ff', new FeedForward(dim, 4, o));
  }
  forward(x: Tensor, context: Tensor): Tensor {
    let h = x.add(this.attn1.forward(this.norm1.forward(x)));
    h = h.add(this.attn2.forward(this.norm2.forward(h), context));
    return h.add(this.ff.forward(this.norm3.forward(h)));
  }
}

/** GroupNorm, 1x1 proj_in, transformer blocks over the H*W positions, 1x1 proj_out, residual (diffusers Transformer2DModel). */
export class Transformer2DModel extends nn.Module {
  readonly norm: nn.GroupNorm;
  readonly proj_in: nn.Conv2d;
  readonly transformer_blocks: nn.ModuleList<BasicTransformerBlock>;
  readonly proj_out: nn.Conv2d;
  constructor(channels: number, heads: number, contextDim: number, groups: number, o: BlockInit = {}) {
    super();
    if (channels % heads)
      throw new Error(`Transformer2DModel: ${channels} channels do not split into ${heads} heads`);
    this.norm = this.registerModule('norm', new nn.GroupNorm(groups, channels, 1e-6));
    this.proj_in = this.registerModule(
      'proj_in',
      new nn.Conv2d(channels, channels, 1, { generator: o.generator }),
    );
    this.transformer_blocks = this.registerModule(
      'transformer_blocks',
      new nn.ModuleList([new BasicTransformerBlock(channels, heads, channels / heads, contextDim, o)]),
    );
    this.proj_out = this.registerModule(
      'proj_out',
      new nn.Conv2d(channels, channels, 1, { generator: o.generator }),
    );
  }
  forward(x: Tensor, context: Tensor): Tensor {
    const [B, C, H, W] = x.shape as [number, number, number, number];
    let h = this.proj_in.forward(this.norm.forward(x));
    h = h.permute(0, 2, 3, 1).reshape(B, H * W, C);
    for (const block of this.transformer_blocks) h = block.forward(h, context);
    h = h.reshape(B, H, W, C).permute(0, 3, 1, 2);
    return this.proj_out.forward(h).add(x);
  }
}

export class Downsample2D extends nn.Module {
  readonly conv: nn.Conv2d;
  constructor(channels: number, o: BlockInit = {}) {
    super();
    this.conv = this.registerModule(
      'conv',
      new nn.Conv2d(channels, channels, 3, { stride: 2, padding: 1, generator: o.generator }),
    );
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(x);
  }
}

export class Upsample2D extends nn.Module {
  readonly conv: nn.Conv2d;
  constructor(channels: number, o: BlockInit = {}) {
    super();
    this.conv = this.registerModule(
      'conv',
      new nn.Conv2d(channels, channels, 3, { padding: 1, generator: o.generator }),
    );
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(F.interpolate(x, { scaleFactor: 2, mode: 'nearest' }));
  }
}

export type DownBlockType = 'DownBlock2D' | 'CrossAttnDownBlock2D';
export type UpBlockType = 'UpBlock2D' | 'CrossAttnUpBlock2D';

export interface LevelSpec {
  inChannels: number;
  outChannels: number;
  tembChannels: number;
  layers: number;
  groups: number;
  eps: number;
  heads: number;
  contextDim: number;
  cross: boolean;
}

/** DownBlock2D / CrossAttnDownBlock2D: `layers` resnets (each followed by a transformer when cross), then an optional downsampler. */
export class DownBlock extends nn.Module {
  readonly resnets: nn.ModuleList<ResnetBlock2D>;
  readonly attentions: nn.ModuleList<Transformer2DModel> | null;
  readonly downsamplers: nn.ModuleList<Downsample2D> | null;
  constructor(s: LevelSpec, addDownsample: boolean, o: BlockInit = {}) {
    super();
    this.resnets = this.registerModule('resnets', new nn.ModuleList<ResnetBlock2D>());
    for (let i = 0; i < s.layers; i++) {
      this.resnets.push(
        new ResnetBlock2D(
          i === 0 ? s.inChannels : s.outChannels,
          s.outChannels,
          s.tembChannels,
          s.groups,
          s.eps,
          o,
        ),
      );
    }
    this.attentions = s.cross
      ? this.registerModule('attentions', new nn.ModuleList<Transformer2DModel>())
      : null;
    for (let i = 0; s.cross && i < s.layers; i++)
      this.attentions!.push(new Transformer2DModel(s.outChannels, s.heads, s.contextDim, s.groups, o));
    this.downsamplers = addDownsample
      ? this.registerModule('downsamplers', new nn.ModuleList([new Downsample2D(s.outChannels, o)]))
      : null;
  }
  /** Returns the output and the skip states (one per resnet, plus the downsampled output). */
  forward(x: Tensor, temb: Tensor, context: Tensor): { h: Tensor; skips: Tensor[] } {
    const skips: Tensor[] = [];
    let h = x;
    this.resnets.items.forEach((r, i) => {
      h = r.forward(h, temb);
      if (this.attentions) h = this.attentions.at(i).forward(h, context);
      skips.push(h);
    });
    if (this.downsamplers) {
      h = this.downsamplers.at(0).forward(h);
      skips.push(h);
    }
    return { h, skips };
  }
}

/** UpBlock2D / CrossAttnUpBlock2D: `layers + 1` resnets on [h, skip] concatenations, then an optional upsampler. */
export class UpBlock extends nn.Module {
  readonly resnets: nn.ModuleList<ResnetBlock2D>;
  readonly attentions: nn.ModuleList<Transformer2DModel> | null;
  readonly upsamplers: nn.ModuleList<Upsample2D> | null;
  constructor(s: LevelSpec & { prevOutputChannels: number }, addUpsample: boolean, o: BlockInit = {}) {
    super();
    this.resnets = this.registerModule('resnets', new nn.ModuleList<ResnetBlock2D>());
    for (let i = 0; i < s.layers + 1; i++) {
      const skipChannels = i === s.layers ? s.inChannels : s.outChannels;
      const resnetIn = i === 0 ? s.prevOutputChannels : s.outChannels;
      this.resnets.push(
        new ResnetBlock2D(resnetIn + skipChannels, s.outChannels, s.tembChannels, s.groups, s.eps, o),
      );
    }
    this.attentions = s.cross
      ? this.registerModule('attentions', new nn.ModuleList<Transformer2DModel>())
      : null;
    for (let i = 0; s.cross && i < s.layers + 1; i++)
      this.attentions!.push(new Transformer2DModel(s.outChannels, s.heads, s.contextDim, s.groups, o));
    this.upsamplers = addUpsample
      ? this.registerModule('upsamplers', new nn.ModuleList([new Upsample2D(s.outChannels, o)]))
      : null;
  }
  /** Consumes skip states from the end of `skips` (popped). */
  forward(x: Tensor, skips: Tensor[], temb: Tensor, context: Tensor): Tensor {
    let h = x;
    this.resnets.items.forEach((r, i) => {
      const skip = skips.pop();
      if (!skip) throw new Error('UpBlock: ran out of skip connections');
      h = r.forward(cat([h, skip], 1), temb);
      if (this.attentions) h = this.attentions.at(i).forward(h, context);
    });
    if (this.upsamplers) h = this.upsamplers.at(0).forward(h);
    return h;
  }
}

/** UNetMidBlock2DCrossAttn: resnet, transformer, resnet. */
export class MidBlock extends nn.Module {
  readonly resnets: nn.ModuleList<ResnetBlock2D>;
  readonly attentions: nn.ModuleList<Transformer2DModel>;
  constructor(
    channels: number,
    tembChannels: number,
    groups: number,
    eps: number,
    heads: number,
    contextDim: number,
    o: BlockInit = {},
  ) {
    super();
    this.resnets = this.registerModule(
      'resnets',
      new nn.ModuleList([
        new ResnetBlock2D(channels, channels, tembChannels, groups, eps, o),
        new ResnetBlock2D(channels, channels, tembChannels, groups, eps, o),
      ]),
    );
    this.attentions = this.registerModule(
      'attentions',
      new nn.ModuleList([new Transformer2DModel(channels, heads, contextDim, groups, o)]),
    );
  }
  forward(x: Tensor, temb: Tensor, context: Tensor): Tensor {
    let h = this.resnets.at(0).forward(x, temb);
    h = this.attentions.at(0).forward(h, context);
    return this.resnets.at(1).forward(h, temb);
  }
}
