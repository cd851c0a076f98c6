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
import type { RewardFeatures } from './config.js';

export interface RewardModelConfig {
  /** width of the CLIP embeddings (projection_dim) */
  embed_dim: number;
  hidden: number;
  features: RewardFeatures;
}

export function rewardInputDim(c: RewardModelConfig): number {
  return c.features === 'concat' ? 2 * c.embed_dim : 3 * c.embed_dim;
}

export class RewardModel extends nn.Module {
  readonly mlp: nn.Sequential;

  constructor(
    readonly config: RewardModelConfig,
    o: { generator?: Generator } = {},
  ) {
    super();
    if (config.features !== 'concat' && config.features !== 'concat_product') {
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

  /** The MLP's input: [e_x; e_z] (or [e_x; e_z; e_x * e_z]). */
  features(imageEmbeds: Tensor, textEmbeds: Tensor): Tensor {
    return tidy(() =>
      this.config.features === 'concat'
        ? cat([imageEmbeds, textEmbeds], -1)
        : cat([imageEmbeds, textEmbeds, imageEmbeds.mul(textEmbeds)], -1),
    );
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
