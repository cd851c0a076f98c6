/**
 * The reward function r_phi(x, z) of the paper (section "Reward learning", Algorithm 1's
 * RewardFunction): a 2-layer MLP on the concatenated CLIP image embedding of x and CLIP text
 * embedding of z, predicting the human label y in {0, 1} (1 = good). CLIP itself stays frozen and
 * outside this module: the inputs are its L2-normalised embeddings.
 *
 *   imageEmbeds [..., P], textEmbeds [..., P] -> r [...]
 *
 * Parameter names: `mlp.0.{weight,bias}` (P_in -> hidden), `mlp.2.{weight,bias}` (hidden -> 1).
 */
import { cat, type Generator, nn, type Tensor, tidy } from '../torch/index.js';
import { REWARD_FEATURES, type RewardFeatures } from './config.js';

export interface RewardModelConfig {
  /** width of the CLIP embeddings (projection_dim) */
  embed_dim: number;
  hidden: number;
  features: RewardFeatures;
}

export function rewardInputDim(c: RewardModelConfig): number {
  if (c.features === 'concat') return 2 * c.embed_dim;
  return c.features === 'concat_cos' ? 2 * c.embed_dim + 1 : 3 * c.embed_dim;
}

export class RewardModel extends nn.Module {
  readonly mlp: nn.Sequential;

  constructor(
    readonly config: RewardModelConfig,
    o: { generator?: Generator } = {},
  ) {
    super();
    if (!REWARD_FEATURES.includes(config.features)) {
      throw new Error(`RewardModel: unknown features "${String(config.features)}"`);
    }
    this.mlp = this.registerModule(
      'mlp',
      new nn.Sequential(
        new nn.Linear(rewardInputDim(config), config.hidden, { generator: o.generator }),
        new nn.Lambda((x) => x.relu()),
        new nn.Linear(config.hidden, 1, { generator: o.generator }),
      ),
    );
  }

  /** The MLP's input: [e_x; e_z], [e_x; e_z; e_x * e_z] or [e_x; e_z; cos(e_x, e_z)]. */
  features(imageEmbeds: Tensor, textEmbeds: Tensor): Tensor {
    return tidy(() => {
      const f = this.config.features;
      if (f === 'concat') return cat([imageEmbeds, textEmbeds], -1);
      const product = imageEmbeds.mul(textEmbeds);
      // the embeddings are L2-normalised, so the sum of their product is CLIP's cosine
      return cat([imageEmbeds, textEmbeds, f === 'concat_cos' ? product.sum(-1, true) : product], -1);
    });
  }

  /** imageEmbeds [..., P], textEmbeds [..., P] (broadcast to one shape) -> r [...] */
  forward(imageEmbeds: Tensor, textEmbeds: Tensor): Tensor {
    const P = this.config.embed_dim;
    if (imageEmbeds.size(-1) !== P || textEmbeds.size(-1) !== P) {
      throw new Error(
        `RewardModel: expected embeddings of width ${P}, got ${imageEmbeds.size(-1)} and ${textEmbeds.size(-1)}`,
      );
    }
    return tidy(() => this.mlp.forward(this.features(imageEmbeds, textEmbeds)).squeeze(-1));
  }
}
