import { UserError } from './errors.js';

/**
 * Each command family lives in its own module under src/cli/ and exports
 * `run(argv: string[]): Promise<number>` (the exit code). The table is loaded lazily so that
 * commands which need no tensor engine (world, serve) start without loading libtorch.
 */
const commands: Record<
  string,
  { summary: string; load: () => Promise<{ run: (argv: string[]) => Promise<number> }> }
> = {
  selfcheck: {
    summary: 'train a tiny conv net on the tensor engine and print its loss falling',
    load: () => import('./selfcheck.js'),
  },
  world: {
    summary:
      'the sprite world: render, judge, prompt sets, example grids (world render | judge | prompts | grid)',
    load: () => import('./world.js'),
  },
  generate: {
    summary: 'sample images from a text-to-image checkpoint (PNGs + manifest.jsonl)',
    load: () => import('./generate.js'),
  },
  pretrain: {
    summary: 'pretrain the world CLIP or the original text-to-image model (pretrain clip | diffusion)',
    load: () => import('./pretrain.js'),
  },
  feedback: {
    summary: 'build the feedback set of a run and label it with simulated raters (feedback build | simulate)',
    load: () => import('./feedback.js'),
  },
  reward: {
    summary: "train the reward model on a run's labels, score images with it (reward train | score)",
    load: () => import('./reward.js'),
  },
  sample: {
    summary: 'rejection sampling: keep the best K of N candidates per prompt by reward',
    load: () => import('./sample.js'),
  },
  finetune: {
    summary: 'reward-weighted fine-tuning of the original model on a run (resumable)',
    load: () => import('./finetune.js'),
  },
  evaluate: {
    summary: 'evaluate models on the evaluation prompts: metrics.json, rater panels, HTML report',
    load: () => import('./evaluate.js'),
  },
  demo: {
    summary:
      'the whole paper in one command: feedback, labels, reward, rejection sampling, fine-tunes, evaluation, report (resumable)',
    load: () => import('./demo.js'),
  },
  serve: {
    summary: 'serve the labeling, comparison and admin web app of a run',
    load: () => import('./serve.js'),
  },
  labelers: {
    summary: 'add labelers and issue their access tokens, list them, reset a token',
    load: () => import('./labelers.js'),
  },
};

function usage(): string {
  const lines = [
    'usage: t2i-align <command> [options]   (t2i-align <command> --help for its options)',
    '',
    'commands:',
  ];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`t2i-align: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    const mod = await cmd.load();
    return await mod.run(rest);
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`t2i-align ${name}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
