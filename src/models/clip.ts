/**
 * CLIP (Radford et al. 2021): a causal text transformer and a ViT image encoder trained so that matching
 * (image, caption) pairs have similar embeddings. Module and parameter names follow Hugging Face
 * transformers' `CLIPModel` exactly (src/transformers/models/clip/modeling_clip.py), so the weights of
 * openai/clip-vit-large-patch14 (and Stable Diffusion v1.5's `text_encoder`, a `CLIPTextModel`) load
 * unchanged:
 *
 *   text_model.embeddings.{token_embedding,position_embedding}.weight
 *   text_model.encoder.layers.N.{self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1, mlp.fc2, layer_norm2}.{weight,bias}
 *   text_model.final_layer_norm.{weight,bias}
 *   vision_model.embeddings.{class_embedding, patch_embedding.weight, position_embedding.weight}
 *   vision_model.pre_layrnorm (sic), vision_model.encoder.layers.N...., vision_model.post_layernorm
 *   text_projection.weight, visual_projection.weight, logit_scale
 *
 * As in transformers >= 4.31 the `position_ids` buffers are not persistent: they are not in the state
 * dict, and checkpoints that still carry them load with those keys ignored (`CLIP_IGNORED_KEYS`).
 *
 * Forward passes, as in transformers:
 *  - text: token + position embeddings -> pre-LN encoder layers with a causal mask -> final_layer_norm;
 *    the pooled output is the hidden state at the first end-of-text token (at argmax(ids) when the
 *    config's eos_token_id is the legacy value 2). Padding needs no attention mask: it comes after the
 *    end-of-text token, which the causal mask keeps from ever seeing it.
 *  - vision: pixels normalised with OpenAI's mean/std -> patch conv (no bias) -> [CLS; patches] +
 *    position embeddings -> pre_layrnorm -> encoder (no mask) -> pooled = post_layernorm(CLS).
 *  - embeddings: projections without bias; logits = exp(logit_scale) * cos(image, text).
 */
import {
  cat,
  F,
  type Generator,
  keep,
  nn,
  noGrad,
  randn,
  type Tensor,
  tensor,
  tidy,
} from '../torch/index.js';
import {
  type CheckpointConfig,
  CheckpointError,
  fillFromCheckpoint,
  loadCheckpoint,
  readCheckpointConfig,
} from './checkpoint.js';

// ---------------------------------------------------------------------------------------------
// Config (mirrors transformers' CLIPTextConfig / CLIPVisionConfig / CLIPConfig field names)

export type HiddenAct = 'quick_gelu' | 'gelu';

export interface CLIPTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** rows of the position table; 77 for every CLIP */
  max_position_embeddings: number;
  hidden_act: HiddenAct;
  layer_norm_eps: number;
  bos_token_id: number;
  /** the pooled output is read at this token (legacy value 2: at argmax(input_ids), as transformers does) */
  eos_token_id: number;
  pad_token_id: number;
  /** std of the normal init of embeddings (transformers: 0.02) */
  initializer_range: number;
  /** scales every init std (transformers: 1.0) */
  initializer_factor: number;
}

export interface CLIPVisionConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  image_size: number;
  patch_size: number;
  num_channels: number;
  hidden_act: HiddenAct;
  layer_norm_eps: number;
  initializer_range: number;
  initializer_factor: number;
}

export interface CLIPConfig {
  text_config: CLIPTextConfig;
  vision_config: CLIPVisionConfig;
  /** width of the shared embedding space */
  projection_dim: number;
  /** initial logit_scale = ln(1/0.07) = 2.6592 (CLIP paper, section 2.5) */
  logit_scale_init_value: number;
}

/** transformers' CLIPTextConfig defaults (openai/clip-vit-base-patch32's text tower). */
export const CLIP_TEXT_DEFAULTS: Readonly<CLIPTextConfig> = {
  vocab_size: 49408,
  hidden_size: 512,
  intermediate_size: 2048,
  num_hidden_layers: 12,
  num_attention_heads: 8,
  max_position_embeddings: 77,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  bos_token_id: 49406,
  eos_token_id: 49407,
  pad_token_id: 1,
  initializer_range: 0.02,
  initializer_factor: 1.0,
};

/** transformers' CLIPVisionConfig defaults (ViT-B/32 at 224 px). */
export const CLIP_VISION_DEFAULTS: Readonly<CLIPVisionConfig> = {
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  image_size: 224,
  patch_size: 32,
  num_channels: 3,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  initializer_range: 0.02,
  initializer_factor: 1.0,
};

/** OpenAI's CLIP image normalisation (CLIPImageProcessor's image_mean / image_std). */
export const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** State-dict keys that CLIP checkpoints may carry but this implementation does not keep. */
export const CLIP_IGNORED_KEYS = /(^|\.)position_ids$/;

type Raw = Record<string, unknown>;

function asObject(v: unknown, what: string): Raw {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new CheckpointError(`${what} must be a JSON object`);
  return v as Raw;
}

function fill<T extends object>(raw: Raw, defaults: Readonly<T>, what: string): T {
  const out: Raw = { ...defaults };
  for (const key of Object.keys(defaults)) {
    if (raw[key] === undefined || raw[key] === null) continue;
    const want = typeof (defaults as Raw)[key];
    if (typeof raw[key] !== want)
      throw new CheckpointError(`${what}.${key} must be a ${want}, got ${JSON.stringify(raw[key])}`);
    out[key] = raw[key];
  }
  return out as T;
}

function checkTower(c: CLIPTextConfig | CLIPVisionConfig, what: string): void {
  for (const key of [
    'hidden_size',
    'intermediate_size',
    'num_hidden_layers',
    'num_attention_heads',
  ] as const) {
    if (!Number.isInteger(c[key]) || c[key] < 1)
      throw new CheckpointError(`${what}.${key} must be a positive integer, got ${c[key]}`);
  }
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new CheckpointError(
      `${what}: hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`,
    );
  }
  if (c.hidden_act !== 'quick_gelu' && c.hidden_act !== 'gelu') {
    throw new CheckpointError(
      `${what}.hidden_act: unknown activation "${c.hidden_act}" (expected quick_gelu or gelu)`,
    );
  }
}

/**
 * A full CLIPConfig from a partial one (or a transformers config.json): missing fields take
 * transformers' defaults, wrong types and impossible shapes are errors that name the field.
 */
export function clipConfig(raw: unknown): CLIPConfig {
  const r = asObject(raw, 'CLIP config');
  const text = fill<CLIPTextConfig>(
    asObject(r['text_config'], 'text_config'),
    CLIP_TEXT_DEFAULTS,
    'text_config',
  );
  const vision = fill<CLIPVisionConfig>(
    asObject(r['vision_config'], 'vision_config'),
    CLIP_VISION_DEFAULTS,
    'vision_config',
  );
  checkTower(text, 'text_config');
  checkTower(vision, 'vision_config');
  if (vision.image_size % vision.patch_size !== 0) {
    throw new CheckpointError(
      `vision_config: image_size ${vision.image_size} is not a multiple of patch_size ${vision.patch_size}`,
    );
  }
  for (const id of ['bos_token_id', 'eos_token_id', 'pad_token_id'] as const) {
    if (!Number.isInteger(text[id]) || text[id] < 0)
      throw new CheckpointError(`text_config.${id} must be a non-negative integer`);
  }
  const top = fill(r, { projection_dim: 512, logit_scale_init_value: 2.6592 }, 'CLIP config');
  if (!Number.isInteger(top.projection_dim) || top.projection_dim < 1)
    throw new CheckpointError('projection_dim must be a positive integer');
  return { text_config: text, vision_config: vision, ...top };
}

// ---------------------------------------------------------------------------------------------
// Init (transformers' CLIPPreTrainedModel._init_weights)

function normal_(t: Tensor, std: number, g?: Generator): void {
  noGrad(() =>
    tidy(() => {
      t.copy_(randn(t.shape, { generator: g }).mul(std));
    }),
  );
}
function zero_(t: Tensor | null): void {
  if (t) noGrad(() => t.zero_());
}

function activation(name: HiddenAct): (x: Tensor) => Tensor {
  return name === 'quick_gelu' ? F.quickGelu : (x) => F.gelu(x);
}

// ---------------------------------------------------------------------------------------------
// Shared encoder

/** Multi-head self-attention with q/k/v/out projections (biases), softmax(q k^T / sqrt(d)) v. */
export class CLIPAttention extends nn.Module {
  readonly q_proj: nn.Linear;
  readonly k_proj: nn.Linear;
  readonly v_proj: nn.Linear;
  readonly out_proj: nn.Linear;
  readonly headDim: number;
  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    g?: Generator,
  ) {
    super();
    this.headDim = embedDim / numHeads;
    this.q_proj = this.registerModule('q_proj', new nn.Linear(embedDim, embedDim, { generator: g }));
    this.k_proj = this.registerModule('k_proj', new nn.Linear(embedDim, embedDim, { generator: g }));
    this.v_proj = this.registerModule('v_proj', new nn.Linear(embedDim, embedDim, { generator: g }));
    this.out_proj = this.registerModule('out_proj', new nn.Linear(embedDim, embedDim, { generator: g }));
  }
  /** x [B, L, D] -> [B, L, D]; `causal` lets position i attend to positions <= i only. */
  forward(x: Tensor, causal: boolean): Tensor {
    return tidy(() => {
      const [B, L] = x.shape as [number, number, number];
      const heads = (t: Tensor) => t.view(B, L, this.numHeads, this.headDim).transpose(1, 2);
      const q = heads(this.q_proj.forward(x));
      const k = heads(this.k_proj.forward(x));
      const v = heads(this.v_proj.forward(x));
      const o = F.scaledDotProductAttention(q, k, v, { isCausal: causal });
      return this.out_proj.forward(o.transpose(1, 2).reshape(B, L, this.embedDim));
    });
  }
}

export class CLIPMLP extends nn.Module {
  readonly fc1: nn.Linear;
  readonly fc2: nn.Linear;
  readonly act: (x: Tensor) => Tensor;
  constructor(hidden: number, intermediate: number, act: HiddenAct, g?: Generator) {
    super();
    this.fc1 = this.registerModule('fc1', new nn.Linear(hidden, intermediate, { generator: g }));
    this.fc2 = this.registerModule('fc2', new nn.Linear(intermediate, hidden, { generator: g }));
    this.act = activation(act);
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.fc2.forward(this.act(this.fc1.forward(x))));
  }
}

/** Pre-LN transformer layer: x + attn(ln1(x)), then x + mlp(ln2(x)). */
export class CLIPEncoderLayer extends nn.Module {
  readonly self_attn: CLIPAttention;
  readonly layer_norm1: nn.LayerNorm;
  readonly mlp: CLIPMLP;
  readonly layer_norm2: nn.LayerNorm;
  constructor(c: CLIPTextConfig | CLIPVisionConfig, g?: Generator) {
    super();
    this.self_attn = this.registerModule(
      'self_attn',
      new CLIPAttention(c.hidden_size, c.num_attention_heads, g),
    );
    this.layer_norm1 = this.registerModule('layer_norm1', new nn.LayerNorm(c.hidden_size, c.layer_norm_eps));
    this.mlp = this.registerModule('mlp', new CLIPMLP(c.hidden_size, c.intermediate_size, c.hidden_act, g));
    this.layer_norm2 = this.registerModule('layer_norm2', new nn.LayerNorm(c.hidden_size, c.layer_norm_eps));
  }
  forward(x: Tensor, causal: boolean): Tensor {
    return tidy(() => {
      const h = x.add(this.self_attn.forward(this.layer_norm1.forward(x), causal));
      return h.add(this.mlp.forward(this.layer_norm2.forward(h)));
    });
  }
}

export class CLIPEncoder extends nn.Module {
  readonly layers: nn.ModuleList<CLIPEncoderLayer>;
  constructor(c: CLIPTextConfig | CLIPVisionConfig, g?: Generator) {
    super();
    this.layers = this.registerModule('layers', new nn.ModuleList<CLIPEncoderLayer>());
    for (let i = 0; i < c.num_hidden_layers; i++) this.layers.push(new CLIPEncoderLayer(c, g));
  }
  forward(x: Tensor, causal: boolean): Tensor {
    return tidy(() => {
      let h = x;
      for (const layer of this.layers) h = layer.forward(h, causal);
      return h;
    });
  }
}

/** transformers' init of one encoder stack (factor = initializer_factor). */
function initEncoder(enc: CLIPEncoder, c: CLIPTextConfig | CLIPVisionConfig, g?: Generator): void {
  const f = c.initializer_factor;
  const D = c.hidden_size;
  const inProjStd = D ** -0.5 * (2 * c.num_hidden_layers) ** -0.5 * f;
  const outProjStd = D ** -0.5 * f;
  const fcStd = (2 * D) ** -0.5 * f;
  for (const layer of enc.layers) {
    const a = layer.self_attn;
    for (const p of [a.q_proj, a.k_proj, a.v_proj]) normal_(p.weight, inProjStd, g);
    normal_(a.out_proj.weight, outProjStd, g);
    normal_(layer.mlp.fc1.weight, fcStd, g);
    normal_(layer.mlp.fc2.weight, inProjStd, g);
    for (const p of [a.q_proj, a.k_proj, a.v_proj, a.out_proj, layer.mlp.fc1, layer.mlp.fc2]) zero_(p.bias);
  }
}

// ---------------------------------------------------------------------------------------------
// Text tower

export class CLIPTextEmbeddings extends nn.Module {
  readonly token_embedding: nn.Embedding;
  readonly position_embedding: nn.Embedding;
  constructor(c: CLIPTextConfig, g?: Generator) {
    super();
    this.token_embedding = this.registerModule(
      'token_embedding',
      new nn.Embedding(c.vocab_size, c.hidden_size, { generator: g }),
    );
    this.position_embedding = this.registerModule(
      'position_embedding',
      new nn.Embedding(c.max_position_embeddings, c.hidden_size, { generator: g }),
    );
  }
  /** ids [B, L] (L <= max_position_embeddings) -> [B, L, D] */
  forward(ids: Tensor): Tensor {
    return tidy(() => {
      const L = ids.size(1);
      const pos = this.position_embedding.weight.slice(0, 0, L).unsqueeze(0);
      return this.token_embedding.forward(ids).add(pos);
    });
  }
}

export interface TextTowerOutput {
  /** [B, L, D] after final_layer_norm: Stable Diffusion's cross-attention context */
  lastHiddenState: Tensor;
  /** [B, D]: the hidden state at each sequence's end-of-text token */
  pooled: Tensor;
}

/** transformers' CLIPTextTransformer (the `text_model` of CLIPModel and CLIPTextModel). */
export class CLIPTextTransformer extends nn.Module {
  readonly embeddings: CLIPTextEmbeddings;
  readonly encoder: CLIPEncoder;
  readonly final_layer_norm: nn.LayerNorm;
  constructor(
    readonly config: CLIPTextConfig,
    g?: Generator,
  ) {
    super();
    this.embeddings = this.registerModule('embeddings', new CLIPTextEmbeddings(config, g));
    this.encoder = this.registerModule('encoder', new CLIPEncoder(config, g));
    this.final_layer_norm = this.registerModule(
      'final_layer_norm',
      new nn.LayerNorm(config.hidden_size, config.layer_norm_eps),
    );
    const s = config.initializer_factor * 0.02;
    normal_(this.embeddings.token_embedding.weight, s, g);
    normal_(this.embeddings.position_embedding.weight, s, g);
    initEncoder(this.encoder, config, g);
  }

  /**
   * ids: int64 [B, L] with 1 <= L <= max_position_embeddings, each row holding an end-of-text token
   * (a tokenizer's encodeBatch output, or its first L columns as long as they keep the EOS).
   */
  forward(ids: Tensor): TextTowerOutput {
    const c = this.config;
    if (ids.ndim !== 2) throw new Error(`CLIP text: expected token ids [B, L], got shape [${ids.shape}]`);
    const L = ids.size(1);
    if (L < 1 || L > c.max_position_embeddings) {
      throw new Error(`CLIP text: sequence length ${L} is outside 1..${c.max_position_embeddings}`);
    }
    return tidy(() => {
      const h = this.encoder.forward(this.embeddings.forward(ids), true);
      const lastHiddenState = this.final_layer_norm.forward(h);
      const B = ids.size(0);
      let eosIndex: Tensor;
      if (c.eos_token_id === 2) {
        eosIndex = ids.argmax(1); // legacy configs: the end token has the largest id
      } else {
        const isEos = ids.eq(c.eos_token_id);
        if (B > 0 && isEos.any(1).logicalNot().any().item()) {
          throw new Error(
            `CLIP text: a sequence has no end-of-text token (id ${c.eos_token_id}); was it cut too short?`,
          );
        }
        eosIndex = isEos.to('float32').argmax(1); // first occurrence
      }
      const index = eosIndex.view(B, 1, 1).expand(B, 1, c.hidden_size);
      const pooled = lastHiddenState.gather(1, index).squeeze(1);
      return { lastHiddenState, pooled };
    });
  }
}

/**
 * transformers' CLIPTextModel: the text tower alone under `text_model.*`, as Stable Diffusion's
 * `text_encoder` folder stores it. The diffusion model uses its `lastHiddenState` as context.
 */
export class CLIPTextModel extends nn.Module {
  readonly text_model: CLIPTextTransformer;
  constructor(
    readonly config: CLIPTextConfig,
    g?: Generator,
  ) {
    super();
    this.text_model = this.registerModule('text_model', new CLIPTextTransformer(config, g));
  }
  /** ids [B, L] -> { lastHiddenState [B, L, D], pooled [B, D] } */
  forward(ids: Tensor): TextTowerOutput {
    return this.text_model.forward(ids);
  }
}

// ---------------------------------------------------------------------------------------------
// Vision tower

export class CLIPVisionEmbeddings extends nn.Module {
  readonly class_embedding: Tensor;
  readonly patch_embedding: nn.Conv2d;
  readonly position_embedding: nn.Embedding;
  readonly numPatches: number;
  constructor(
    readonly c: CLIPVisionConfig,
    g?: Generator,
  ) {
    super();
    const D = c.hidden_size;
    this.class_embedding = this.registerParameter('class_embedding', randn([D], { generator: g }));
    this.patch_embedding = this.registerModule(
      'patch_embedding',
      new nn.Conv2d(c.num_channels, D, c.patch_size, { stride: c.patch_size, bias: false, generator: g }),
    );
    this.numPatches = (c.image_size / c.patch_size) ** 2;
    this.position_embedding = this.registerModule(
      'position_embedding',
      new nn.Embedding(this.numPatches + 1, D, { generator: g }),
    );
  }
  /** normalised pixels [B, C, S, S] -> [B, 1 + (S/P)^2, D] (CLS token first) */
  forward(pixels: Tensor): Tensor {
    return tidy(() => {
      const B = pixels.size(0);
      const D = this.c.hidden_size;
      const patches = this.patch_embedding.forward(pixels).flatten(2).transpose(1, 2); // [B, N, D]
      const cls = this.class_embedding.view(1, 1, D).expand(B, 1, D);
      return cat([cls, patches], 1).add(this.position_embedding.weight.unsqueeze(0));
    });
  }
}

export interface VisionTowerOutput {
  /** [B, 1 + N, D] encoder output (before post_layernorm, as transformers returns it) */
  lastHiddenState: Tensor;
  /** [B, D] post_layernorm of the CLS token */
  pooled: Tensor;
}

/** transformers' CLIPVisionTransformer (the `vision_model` of CLIPModel). */
export class CLIPVisionTransformer extends nn.Module {
  readonly embeddings: CLIPVisionEmbeddings;
  readonly pre_layrnorm: nn.LayerNorm;
  readonly encoder: CLIPEncoder;
  readonly post_layernorm: nn.LayerNorm;
  constructor(
    readonly config: CLIPVisionConfig,
    g?: Generator,
  ) {
    super();
    this.embeddings = this.registerModule('embeddings', new CLIPVisionEmbeddings(config, g));
    this.pre_layrnorm = this.registerModule(
      'pre_layrnorm',
      new nn.LayerNorm(config.hidden_size, config.layer_norm_eps),
    );
    this.encoder = this.registerModule('encoder', new CLIPEncoder(config, g));
    this.post_layernorm = this.registerModule(
      'post_layernorm',
      new nn.LayerNorm(config.hidden_size, config.layer_norm_eps),
    );
    const f = config.initializer_factor;
    normal_(this.embeddings.class_embedding, config.hidden_size ** -0.5 * f, g);
    normal_(this.embeddings.patch_embedding.weight, config.initializer_range * f, g);
    normal_(this.embeddings.position_embedding.weight, config.initializer_range * f, g);
    initEncoder(this.encoder, config, g);
  }
  /** normalised pixels [B, C, S, S] -> { lastHiddenState [B, 1+N, D], pooled [B, D] } */
  forward(pixels: Tensor): VisionTowerOutput {
    return tidy(() => {
      const h = this.pre_layrnorm.forward(this.embeddings.forward(pixels));
      const lastHiddenState = this.encoder.forward(h, false);
      const pooled = this.post_layernorm.forward(lastHiddenState.select(1, 0));
      return { lastHiddenState, pooled };
    });
  }
}

// ---------------------------------------------------------------------------------------------
// CLIPModel

export interface TextEmbeddings extends TextTowerOutput {
  /** [B, P] text_projection(pooled), not normalised */
  textEmbeds: Tensor;
}
export interface ImageEmbeddings extends VisionTowerOutput {
  /** [B, P] visual_projection(pooled), not normalised */
  imageEmbeds: Tensor;
}

/** L2-normalises the last dimension. */
export function l2normalize(x: Tensor): Tensor {
  return tidy(() => x.div(x.norm(-1, true).clamp(1e-12)));
}

export class CLIPModel extends nn.Module {
  readonly text_model: CLIPTextTransformer;
  readonly vision_model: CLIPVisionTransformer;
  readonly visual_projection: nn.Linear;
  readonly text_projection: nn.Linear;
  /** 0-d; logits are scaled by exp(logit_scale) */
  readonly logit_scale: Tensor;
  readonly #mean: Tensor;
  readonly #std: Tensor;

  /** Builds a randomly initialised CLIP (transformers' init), seeded by `generator`. */
  constructor(
    readonly config: CLIPConfig,
    generator?: Generator,
  ) {
    super();
    const g = generator;
    this.text_model = this.registerModule('text_model', new CLIPTextTransformer(config.text_config, g));
    this.vision_model = this.registerModule(
      'vision_model',
      new CLIPVisionTransformer(config.vision_config, g),
    );
    const Dv = config.vision_config.hidden_size;
    const Dt = config.text_config.hidden_size;
    this.visual_projection = this.registerModule(
      'visual_projection',
      new nn.Linear(Dv, config.projection_dim, { bias: false, generator: g }),
    );
    this.text_projection = this.registerModule(
      'text_projection',
      new nn.Linear(Dt, config.projection_dim, { bias: false, generator: g }),
    );
    this.logit_scale = this.registerParameter('logit_scale', tensor(config.logit_scale_init_value));
    normal_(this.visual_projection.weight, Dv ** -0.5 * config.vision_config.initializer_factor, g);
    normal_(this.text_projection.weight, Dt ** -0.5 * config.text_config.initializer_factor, g);
    this.#mean = keep(tensor([...OPENAI_CLIP_MEAN]).view(1, 3, 1, 1));
    this.#std = keep(tensor([...OPENAI_CLIP_STD]).view(1, 3, 1, 1));
  }

  /** The text tower alone (what a diffusion model conditions on). */
  get textModel(): CLIPTextTransformer {
    return this.text_model;
  }

  /** ids int64 [B, L] -> { lastHiddenState [B, L, Dt], pooled [B, Dt], textEmbeds [B, P] } */
  encodeText(ids: Tensor): TextEmbeddings {
    return tidy(() => {
      const out = this.text_model.forward(ids);
      return { ...out, textEmbeds: this.text_projection.forward(out.pooled) };
    });
  }

  /**
   * pixels [B, 3, S, S] in [0, 1] (S = vision_config.image_size) -> { imageEmbeds [B, P], pooled, lastHiddenState }.
   * Pixels are normalised here with OpenAI's mean and std (OPENAI_CLIP_MEAN / OPENAI_CLIP_STD), as
   * CLIPImageProcessor does. Another size is an error unless `resize` is set, which resamples
   * bilinearly to S x S (square inputs; the processor's resize + centre crop is then the identity crop).
   */
  encodeImage(pixels: Tensor, o: { resize?: boolean } = {}): ImageEmbeddings {
    const c = this.config.vision_config;
    if (pixels.ndim !== 4 || pixels.size(1) !== c.num_channels) {
      throw new Error(
        `CLIP image: expected pixels [B, ${c.num_channels}, H, W], got shape [${pixels.shape}]`,
      );
    }
    const [, , H, W] = pixels.shape as [number, number, number, number];
    if ((H !== c.image_size || W !== c.image_size) && !o.resize) {
      throw new Error(
        `CLIP image: expected ${c.image_size}x${c.image_size} pixels, got ${H}x${W} (pass { resize: true } to resample)`,
      );
    }
    return tidy(() => {
      let x = pixels.to({ dtype: this.#dtype(), device: this.logit_scale.device });
      if (H !== c.image_size || W !== c.image_size)
        x = F.interpolate(x, { size: [c.image_size, c.image_size], mode: 'bilinear' });
      const mean = this.#mean.to({ dtype: x.dtype, device: x.device });
      const std = this.#std.to({ dtype: x.dtype, device: x.device });
      const out = this.vision_model.forward(x.sub(mean).div(std));
      return { ...out, imageEmbeds: this.visual_projection.forward(out.pooled) };
    });
  }

  #dtype() {
    return this.logit_scale.dtype;
  }

  /**
   * CLIP's similarity logits: exp(logit_scale) * cos(image_i, text_j).
   * pixels [B, 3, S, S], ids [T, L] -> logitsPerImage [B, T] (and its transpose logitsPerText [T, B]).
   */
  forward(pixels: Tensor, ids: Tensor): { logitsPerImage: Tensor; logitsPerText: Tensor } {
    return tidy(() => {
      const img = l2normalize(this.encodeImage(pixels).imageEmbeds);
      const txt = l2normalize(this.encodeText(ids).textEmbeds);
      const logitsPerImage = img.matmul(txt.T).mul(this.logit_scale.exp());
      return { logitsPerImage, logitsPerText: logitsPerImage.T };
    });
  }

  /**
   * CLIP score of each (image, text) pair: cos(imageEmbeds_i, textEmbeds_i), in [-1, 1] (no 100x
   * scaling, no clipping at 0). pixels [B, 3, S, S] in [0, 1], ids [B, L] -> [B].
   */
  clipScore(pixels: Tensor, ids: Tensor): Tensor {
    if (pixels.size(0) !== ids.size(0))
      throw new Error(`clipScore: ${pixels.size(0)} images but ${ids.size(0)} texts`);
    return tidy(() => {
      const img = l2normalize(this.encodeImage(pixels).imageEmbeds);
      const txt = l2normalize(this.encodeText(ids).textEmbeds);
      return img.mul(txt).sum(-1);
    });
  }

  override dispose(): void {
    super.dispose();
    this.#mean.dispose();
    this.#std.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

/** config.json of a CLIP checkpoint folder: the class name plus the CLIPConfig fields. */
export function clipCheckpointConfig(
  config: CLIPConfig,
  extra: Record<string, unknown> = {},
): CheckpointConfig {
  return { class: 'CLIPModel', model_type: 'clip', ...config, ...extra };
}

/** Loads a CLIPModel from a checkpoint folder (ours, or transformers' CLIPModel layout). */
export function loadCLIPModel(dir: string, o: { device?: string } = {}): CLIPModel {
  const cfg = readCheckpointConfig(dir, 'CLIPModel');
  const config = clipConfig(cfg);
  const ckpt = loadCheckpoint(dir);
  return fillFromCheckpoint(new CLIPModel(config), ckpt, { ignore: CLIP_IGNORED_KEYS, device: o.device });
}

/**
 * Loads only the text tower as a CLIPTextModel, from a CLIPModel folder (its `text_model.*` tensors and
 * text_config) or a CLIPTextModel folder (Stable Diffusion's text_encoder layout).
 */
export function loadCLIPTextModel(dir: string, o: { device?: string } = {}): CLIPTextModel {
  const cfg = readCheckpointConfig(dir, ['CLIPModel', 'CLIPTextModel']);
  const textConfig =
    cfg.class === 'CLIPModel' ? clipConfig(cfg).text_config : clipConfig({ text_config: cfg }).text_config;
  const ckpt = loadCheckpoint(dir, { filter: (k) => k.startsWith('text_model.') });
  return fillFromCheckpoint(new CLIPTextModel(textConfig), ckpt, {
    ignore: CLIP_IGNORED_KEYS,
    device: o.device,
  });
}
