/**
 * bench:models — the sprite world's models on this machine:
 *  - parameter counts of the shipped UNet and CLIP (checkpoints/world/*, or their configs if not there yet);
 *  - UNet training-step time at batch 64 (denoising loss, AdamW, text context from the frozen CLIP);
 *  - sampling throughput: 25 DDIM steps with classifier-free guidance, batch 64;
 *  - the UNet forward's achieved GFLOP/s next to the machine's fp32 matmul peak, in the same run.
 *   npm run bench:models [-- --device cuda]
 * The last line is JSON.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CLIPModel, loadCLIPModel } from '../src/models/clip.js';
import { worldClipConfig } from '../src/models/clip_train.js';
import { denoisingLoss } from '../src/models/denoising_loss.js';
import { TextToImagePipeline } from '../src/models/pipeline.js';
import { DDPMScheduler, WORLD_SCHEDULER_CONFIG } from '../src/models/scheduler_ddpm.js';
import { ClipTextEncoder, loadPipeline } from '../src/models/t2i_checkpoint.js';
import { worldTokenizer } from '../src/models/tokenizer.js';
import { UNet2DConditionModel, WORLD_UNET_CONFIG } from '../src/models/unet.js';
import {
  cudaSynchronize,
  F,
  full,
  Generator,
  getNumThreads,
  libtorchVersion,
  noGrad,
  optim,
  randn,
  tidy,
} from '../src/torch/index.js';

const { values } = parseArgs({ options: { device: { type: 'string', default: 'cpu' } } });
const device = values.device!;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
function time(fn: () => void, reps: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    cudaSynchronize();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

// models: the shipped checkpoints where present
const baseDir = 'checkpoints/world/base';
const clipDir = 'checkpoints/world/clip';
const shipped = existsSync(`${baseDir}/config.json`) && existsSync(`${clipDir}/config.json`);
let unet: UNet2DConditionModel;
let clip: CLIPModel;
let encoder: ClipTextEncoder;
if (shipped) {
  const loaded = loadPipeline(baseDir, { device });
  unet = loaded.unet;
  encoder = loaded.textEncoder;
  clip = loadCLIPModel(clipDir, { device });
} else {
  const tok = worldTokenizer();
  clip = new CLIPModel(worldClipConfig(tok), new Generator(0)).to({ device });
  unet = new UNet2DConditionModel(WORLD_UNET_CONFIG, { generator: new Generator(0) }).to({ device });
  encoder = new ClipTextEncoder(clip.text_model, tok, device);
}
console.log(
  `models: ${shipped ? 'shipped checkpoints' : 'default configs (checkpoints not found)'}; libtorch ${libtorchVersion()}, ${getNumThreads()} threads, device ${device}`,
);
const unetParams = unet.numParameters();
const clipParams = clip.numParameters();
console.log(`parameters: UNet ${unetParams.toLocaleString('en')}, CLIP ${clipParams.toLocaleString('en')}`);

// training step at batch 64
const B = 64;
const S = unet.config.sample_size;
const g = new Generator(0);
const x0 = randn([B, 3, S, S], { generator: g, device }).clamp(-1, 1);
const prompts = Array.from(
  { length: B },
  (_, i) => ['two dogs in the forest', 'a red apple', 'photo of a cake on the moon', ''][i % 4]!,
);
const context = encoder.encode(prompts);
unet.train();
const opt = new optim.AdamW(unet.parameters(), { lr: 1e-4 });
const sched = new DDPMScheduler(WORLD_SCHEDULER_CONFIG);
const trainMs = time(
  () =>
    tidy(() => {
      opt.zeroGrad();
      const ctx = noGrad(() => encoder.encode(prompts));
      denoisingLoss(unet, sched, x0, ctx, { generator: g }).mean().backward();
      opt.step();
      return undefined;
    }),
  8,
  2,
);
console.log(`train step (batch ${B}, text encoder included): ${trainMs.toFixed(0)} ms`);
unet.eval();

// UNet forward FLOPs and speed at the guided batch (2 x 64)
const xf = randn([2 * B, 3, S, S], { generator: g, device });
const ctxf = randn([2 * B, context.size(1), context.size(2)], { generator: g, device });
const { flops } = noGrad(() =>
  F.countFlops(() =>
    tidy(() =>
      unet
        .forward(xf, full([1], 500, { device }), ctxf)
        .sum()
        .item(),
    ),
  ),
);
const fwdMs = time(
  () =>
    noGrad(() =>
      tidy(() =>
        unet
          .forward(xf, full([1], 500, { device }), ctxf)
          .sum()
          .item(),
      ),
    ),
  5,
);
const achieved = flops / (fwdMs / 1000) / 1e9;

// matmul peak
const n = 2048;
const a = randn([n, n], { generator: g, device });
const b = randn([n, n], { generator: g, device });
const mmMs = time(() => tidy(() => a.matmul(b).sum().item()), 10, 2);
const peak = (2 * n ** 3) / (mmMs / 1000) / 1e9;
console.log(
  `UNet forward (batch ${2 * B}): ${(flops / 1e9).toFixed(1)} GFLOP in ${fwdMs.toFixed(0)} ms = ${achieved.toFixed(1)} GFLOP/s; fp32 matmul peak (${n}^3): ${peak.toFixed(1)} GFLOP/s (${((100 * achieved) / peak).toFixed(0)}%)`,
);

// sampling throughput: 25 DDIM steps with guidance, batch 64
const pipe = new TextToImagePipeline(unet, encoder, WORLD_SCHEDULER_CONFIG, device);
const t0 = performance.now();
pipe.generate(prompts, { seeds: prompts.map((_, i) => i), steps: 25, guidance: 5, batchSize: B }).dispose();
const sampleS = (performance.now() - t0) / 1000;
const ips = B / sampleS;
console.log(
  `sampling: ${B} images, 25 DDIM steps, guidance 5: ${sampleS.toFixed(1)} s = ${ips.toFixed(2)} images/s`,
);
console.log(
  JSON.stringify({
    device,
    threads: getNumThreads(),
    shipped,
    params: { unet: unetParams, clip: clipParams },
    train_step_ms_b64: Number(trainMs.toFixed(1)),
    sample_images_per_s: Number(ips.toFixed(3)),
    unet_forward_gflops: Number(achieved.toFixed(2)),
    matmul_peak_gflops: Number(peak.toFixed(2)),
  }),
);
