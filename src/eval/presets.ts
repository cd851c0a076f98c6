/**
 * Scales of `t2i-align demo` (every stage of the paper in turn, on the sprite world). Sizes are set
 * from the 2-core machine's budget (DESIGN.md, "Compute budget": about 6 sampled images/s with the
 * world UNet at its sampler settings, 0.55 s per fine-tuning step of 64 images):
 *
 *  - smoke: a test of the plumbing in the test suite (at most 3 minutes with the shipped checkpoints):
 *    the 50-image feedback set, 8 of the 120 evaluation prompts (every 15th: seen and unseen, every
 *    Table 4 group), 12 fine-tuning steps of 8 + 8 images, a 200-image FD reference.
 *    About 350 sampled images in all.
 *  - quick: the 2,294-image feedback set (1/12 of the paper's) + 1,334 unlabeled, 300 fine-tuning
 *    steps of 32 D_model + 16 D_pre images, all 120 evaluation prompts, 2,000 FD reference renders.
 *    Target: 30 minutes on the 2-core machine. It samples about 7,000 images (feedback 3,628,
 *    rejection 1,920, evaluation 3 x 480; the original's evaluation images are rejection
 *    sampling's first candidates): about 14 minutes at the world model's 10 DDIM steps (25 steps
 *    would take about 34). The three fine-tunes take about 9 minutes.
 *  - paper: the paper's 27,528 labeled + 16,000 unlabeled images, 4,000 fine-tuning steps; hours on
 *    the 2-core machine, meant for a GPU (`--device cuda`).
 */
import { ABLATION_FRACTIONS } from './metrics.js';

export interface DemoPreset {
  /** feedback prompt set (world/feedback_prompts.ts) */
  feedback: 'smoke' | 'quick' | 'paper';
  /** simulated labelers per feedback image (paper: two) */
  labelers: number;
  /** reward training epochs (the rest: RewardConfig defaults) */
  rewardEpochs: number;
  /** every n-th of the 120 evaluation prompts */
  evalEvery: number;
  /** fine-tuning: steps and images per step of D_model and D_pre, warmup, logging and checkpoints */
  finetune: {
    steps: number;
    batchModel: number;
    batchPre: number;
    warmup: number;
    logEvery: number;
    saveEvery: number;
  };
  /** size of the FD reference set (held-out corpus renders; the issue asks for 2,000) */
  fdImages: number;
  /** fractions of the human-data-size ablation */
  ablationFractions: readonly number[];
}

export const DEMO_PRESETS: Readonly<Record<'smoke' | 'quick' | 'paper', DemoPreset>> = {
  smoke: {
    feedback: 'smoke',
    labelers: 2,
    rewardEpochs: 10,
    evalEvery: 15,
    finetune: { steps: 12, batchModel: 8, batchPre: 8, warmup: 2, logEvery: 2, saveEvery: 12 },
    fdImages: 200,
    ablationFractions: ABLATION_FRACTIONS,
  },
  quick: {
    feedback: 'quick',
    labelers: 2,
    rewardEpochs: 30,
    evalEvery: 1,
    finetune: { steps: 300, batchModel: 32, batchPre: 16, warmup: 30, logEvery: 25, saveEvery: 100 },
    fdImages: 2000,
    ablationFractions: ABLATION_FRACTIONS,
  },
  paper: {
    feedback: 'paper',
    labelers: 2,
    rewardEpochs: 30,
    evalEvery: 1,
    finetune: { steps: 4000, batchModel: 32, batchPre: 32, warmup: 100, logEvery: 50, saveEvery: 200 },
    fdImages: 2000,
    ablationFractions: ABLATION_FRACTIONS,
  },
};

export type DemoPresetName = keyof typeof DEMO_PRESETS;

/** The three fine-tunes of the paper's Table 3 (besides the original): name and finetune flags. */
export const DEMO_FINETUNES: readonly { name: string; args: readonly string[] }[] = [
  { name: 'finetuned', args: [] },
  { name: 'ft_no_pretrain', args: ['--beta', '0'] },
  { name: 'ft_no_unlabeled_no_pretrain', args: ['--beta', '0', '--no-unlabeled'] },
];
