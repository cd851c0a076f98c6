/**
 * Writes the tiny UNet's seeded weights and inputs for the golden test (see unet_ref.py):
 *   npx tsx test/models/golden/make_unet_inputs.ts && /usr/bin/python3 test/models/golden/unet_ref.py
 */
import { writeFileSync } from 'node:fs';
import { UNet2DConditionModel } from '../../../src/models/unet.js';
import { Generator, noGrad, randn, saveSafetensors, tensor } from '../../../src/torch/index.js';
import { TINY_UNET } from '../tiny.js';

const dir = new URL('.', import.meta.url).pathname;
const g = new Generator(2024);
const unet = new UNet2DConditionModel(TINY_UNET, { generator: g });
// non-trivial norm parameters, so that their names and roles are checked too
noGrad(() => {
  for (const [name, p] of Object.entries(unet.stateDict())) {
    if (/norm.*\.(weight|bias)$/.test(name))
      p.copy_(
        randn(p.shape, { generator: g })
          .mul(0.2)
          .add(name.endsWith('weight') ? 1 : 0),
      );
  }
});
const sd = {
  ...unet.stateDict(),
  __sample: randn([2, 3, 8, 8], { generator: g }),
  __timesteps: tensor([7, 803]),
  __context: randn([2, 5, TINY_UNET.cross_attention_dim], { generator: g }),
};
saveSafetensors(`${dir}/unet_tiny.safetensors`, sd);
writeFileSync(`${dir}/unet_tiny.json`, JSON.stringify(TINY_UNET, null, 2));
console.log('wrote unet_tiny.safetensors', unet.numParameters(), 'parameters');
