/**
 * `t2i-align world`: the sprite world from the command line (library: src/world/).
 *
 *   world render  --prompt TEXT --seed S --out FILE.png [--size 32] [--degrade]
 *   world judge   --image FILE.png [--prompt TEXT] [--json] [--size 32]
 *   world judge   --manifest FILE.jsonl [--out FILE.jsonl] [--size 32]
 *   world prompts [--preset paper|quick|smoke | --eval] [--out FILE.jsonl]
 *   world grid    --out FILE.png [--kind scenes|objects|degraded] [--scale 4] [--seed 0]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type CommandSpec, numberOption, parseCommand, stringOption, subcommandGroup } from './args.js';
import { UserError } from './errors.js';

const RENDER_SPEC: CommandSpec = {
  name: 'world render',
  summary: 'render a prompt to a PNG',
  usage: 't2i-align world render --prompt "Two blue dogs in the forest." --seed 7 --out x.png [--size 32]',
  options: {
    prompt: { type: 'string', help: 'prompt in the world grammar, e.g. "Two blue dogs in the forest."' },
    seed: { type: 'string', default: '0', help: 'seed of the layout and texture' },
    out: { type: 'string', help: 'output PNG file' },
    size: { type: 'string', default: '32', help: 'image side in pixels' },
    degrade: {
      type: 'boolean',
      default: false,
      help: 'apply the judge-test degradation (noise, blur, jitter)',
    },
  },
};

const JUDGE_SPEC: CommandSpec = {
  name: 'world judge',
  summary: 'read an image with the judge; with a prompt, say good / bad / unsure',
  usage:
    't2i-align world judge --image x.png [--prompt TEXT] [--json]\n       t2i-align world judge --manifest images.jsonl [--out verdicts.jsonl]',
  options: {
    image: { type: 'string', help: 'PNG file to judge' },
    prompt: { type: 'string', help: 'prompt to check the image against' },
    json: { type: 'boolean', default: false, help: 'print the full judgement as JSON' },
    manifest: {
      type: 'string',
      help: 'JSONL file of {"prompt", "image"} lines (or "file" as written by `generate`); paths relative to the manifest',
    },
    out: { type: 'string', help: 'with --manifest: write the JSONL verdicts here instead of stdout' },
    size: { type: 'string', default: '32', help: 'expected image side in pixels' },
  },
};

const PROMPTS_SPEC: CommandSpec = {
  name: 'world prompts',
  summary: 'write the feedback prompt set of a preset, or the 120 evaluation prompts, as JSONL',
  usage:
    't2i-align world prompts --preset paper --out feedback.jsonl\n       t2i-align world prompts --eval --out eval.jsonl',
  options: {
    preset: { type: 'string', default: 'paper', help: 'feedback preset: paper, quick or smoke' },
    eval: {
      type: 'boolean',
      default: false,
      help: 'write the 120 evaluation prompts (paper Table 4) instead',
    },
    out: { type: 'string', help: 'output JSONL file (default: stdout)' },
  },
};

const GRID_SPEC: CommandSpec = {
  name: 'world grid',
  summary: 'render a grid of example scenes (for docs and reports)',
  usage: 't2i-align world grid --out docs/img/world-scenes.png [--kind scenes|objects|degraded]',
  options: {
    out: { type: 'string', help: 'output PNG file' },
    kind: {
      type: 'string',
      default: 'scenes',
      help: 'scenes: every background x every color; objects: the 25 objects; degraded: clean and degraded pairs',
    },
    scale: { type: 'string', default: '4', help: 'integer upscaling of each 32x32 cell' },
    seed: { type: 'string', default: '0', help: 'seed of the scenes' },
  },
};

export const run = subcommandGroup('world', 'subcommand', {
  render: { summary: RENDER_SPEC.summary, run: runRender },
  judge: { summary: JUDGE_SPEC.summary, run: runJudge },
  prompts: { summary: PROMPTS_SPEC.summary, run: runPrompts },
  grid: { summary: GRID_SPEC.summary, run: runGrid },
});

/** Parses a prompt, turning grammar errors into one-line user errors. */
async function promptOption(text: string) {
  const { parsePrompt, PromptError } = await import('../world/prompt.js');
  try {
    return parsePrompt(text);
  } catch (e) {
    if (e instanceof PromptError) throw new UserError(e.message);
    throw e;
  }
}

/** Reads a PNG of the expected size, with user errors for missing, unreadable, non-PNG or wrong-size files. */
async function readImage(path: string, size: number) {
  const { readPng } = await import('../world/png.js');
  let img: ReturnType<typeof readPng>;
  try {
    img = readPng(path);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (img.width !== size || img.height !== size) {
    throw new UserError(`image ${path} is ${img.width}x${img.height}, expected ${size}x${size} (see --size)`);
  }
  return img;
}

async function runRender(argv: string[]): Promise<number> {
  const parsed = parseCommand(RENDER_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const prompt = await promptOption(stringOption(v, 'prompt'));
  const seed = numberOption(v, 'seed', { integer: true, min: 0 });
  const size = numberOption(v, 'size', { integer: true, min: 1 });
  const out = stringOption(v, 'out');
  const { sceneFromPrompt, renderScene } = await import('../world/render.js');
  const { renderDegraded } = await import('../world/degrade.js');
  const { Rng } = await import('../world/rng.js');
  const { writePng } = await import('../world/png.js');
  const rng = new Rng(seed);
  const scene = sceneFromPrompt(prompt, rng);
  const img = v['degrade']
    ? renderDegraded(scene, rng.fork('degrade'), { size })
    : renderScene(scene, { size });
  try {
    writePng(out, img);
  } catch (e) {
    throw new UserError(`cannot write ${out}: ${(e as Error).message}`);
  }
  return 0;
}

async function runJudge(argv: string[]): Promise<number> {
  const parsed = parseCommand(JUDGE_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const size = numberOption(v, 'size', { integer: true, min: 1 });
  if (typeof v['manifest'] === 'string') {
    if (typeof v['image'] === 'string' || typeof v['prompt'] === 'string') {
      throw new UserError('give --manifest, or --image (and --prompt), not both');
    }
    return judgeManifest(v['manifest'], size, typeof v['out'] === 'string' ? v['out'] : undefined);
  }
  const imagePath = stringOption(v, 'image');
  const prompt = typeof v['prompt'] === 'string' ? await promptOption(v['prompt']) : undefined;
  const img = await readImage(imagePath, size);
  const { judgeImage } = await import('../world/judge.js');
  const { verdict } = await import('../world/verdict.js');
  const { formatPrompt } = await import('../world/prompt.js');
  const judgement = judgeImage(img);
  const result = prompt ? verdict(prompt, judgement) : undefined;
  if (v['json']) {
    const out = result
      ? {
          prompt: formatPrompt(prompt!),
          verdict: result.label,
          failed: result.failed,
          uncertain: result.uncertain,
          judgement,
        }
      : { judgement };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    const objects = judgement.objects.map((o) => `${o.paint} ${o.object}`).join(', ') || 'no objects';
    const reading = `${judgement.count} object(s) on ${judgement.background}: ${objects}`;
    if (result) {
      const why = [
        ...result.failed.map((a) => `${a} failed`),
        ...result.uncertain.map((a) => `${a} uncertain`),
      ].join(', ');
      process.stdout.write(`${result.label}${why ? ` (${why})` : ''}: ${reading}\n`);
    } else process.stdout.write(`${reading}\n`);
  }
  return 0;
}

/** Judges every {prompt, image} line of a manifest in one process; one JSON verdict per line out. */
async function judgeManifest(path: string, size: number, outPath: string | undefined): Promise<number> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read manifest ${path}: ${(e as Error).message}`);
  }
  const { judgeImage } = await import('../world/judge.js');
  const { verdict } = await import('../world/verdict.js');
  const { formatPrompt } = await import('../world/prompt.js');
  const base = dirname(path);
  const lines = text.split('\n');
  const out: string[] = [];
  const tally = { good: 0, bad: 0, unsure: 0 };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith('#')) continue;
    let entry: { prompt?: unknown; image?: unknown; file?: unknown };
    try {
      entry = JSON.parse(line);
    } catch (e) {
      throw new UserError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const file = entry.image ?? entry.file;
    if (typeof entry.prompt !== 'string' || typeof file !== 'string') {
      throw new UserError(`${path}:${i + 1}: each line needs "prompt" and "image" (or "file") strings`);
    }
    let prompt: Awaited<ReturnType<typeof promptOption>>;
    try {
      prompt = await promptOption(entry.prompt);
    } catch (e) {
      throw new UserError(`${path}:${i + 1}: ${(e as Error).message}`);
    }
    const imagePath = isAbsolute(file) ? file : resolve(base, file);
    const img = await readImage(imagePath, size).catch((e: Error) => {
      throw new UserError(`${path}:${i + 1}: ${e.message}`);
    });
    const judgement = judgeImage(img);
    const result = verdict(prompt, judgement);
    tally[result.label]++;
    out.push(
      JSON.stringify({
        prompt: formatPrompt(prompt),
        image: file,
        verdict: result.label,
        failed: result.failed,
        uncertain: result.uncertain,
        background: judgement.background,
        count: judgement.count,
        objects: judgement.objects.map((o) => ({ object: o.object, paint: o.paint, x: o.x, y: o.y })),
      }),
    );
  }
  const body = out.length > 0 ? `${out.join('\n')}\n` : '';
  if (outPath) {
    try {
      writeFileSync(outPath, body);
    } catch (e) {
      throw new UserError(`cannot write ${outPath}: ${(e as Error).message}`);
    }
  } else process.stdout.write(body);
  process.stderr.write(
    `judged ${out.length} images: ${tally.good} good, ${tally.bad} bad, ${tally.unsure} unsure\n`,
  );
  return 0;
}

async function runPrompts(argv: string[]): Promise<number> {
  const parsed = parseCommand(PROMPTS_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const lines: string[] = [];
  let summary: string;
  if (v['eval']) {
    const { evalPrompts } = await import('../world/eval_prompts.js');
    for (const p of evalPrompts())
      lines.push(JSON.stringify({ text: p.text, split: p.split, group: p.group, ...p.prompt }));
    summary = `${lines.length} evaluation prompts`;
  } else {
    const { feedbackPrompts, FEEDBACK_PRESETS, totalImages } = await import('../world/feedback_prompts.js');
    const preset = stringOption(v, 'preset');
    if (!(FEEDBACK_PRESETS as readonly string[]).includes(preset)) {
      throw new UserError(`unknown preset "${preset}" (expected ${FEEDBACK_PRESETS.join(', ')})`);
    }
    const prompts = feedbackPrompts(preset as (typeof FEEDBACK_PRESETS)[number]);
    for (const p of prompts) {
      lines.push(JSON.stringify({ text: p.text, category: p.category, images: p.images, ...p.prompt }));
    }
    summary = `${prompts.length} feedback prompts, ${totalImages(prompts)} images (preset ${preset})`;
  }
  const body = `${lines.join('\n')}\n`;
  const out = v['out'];
  if (typeof out === 'string') {
    try {
      writeFileSync(out, body);
    } catch (e) {
      throw new UserError(`cannot write ${out}: ${(e as Error).message}`);
    }
    process.stderr.write(`wrote ${summary} to ${out}\n`);
  } else process.stdout.write(body);
  return 0;
}

async function runGrid(argv: string[]): Promise<number> {
  const parsed = parseCommand(GRID_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const out = stringOption(v, 'out');
  const kind = stringOption(v, 'kind');
  const scale = numberOption(v, 'scale', { integer: true, min: 1 });
  const seed = numberOption(v, 'seed', { integer: true, min: 0 });
  const { exampleGrid, GRID_KINDS } = await import('../world/examples.js');
  if (!(GRID_KINDS as readonly string[]).includes(kind)) {
    throw new UserError(`unknown grid kind "${kind}" (expected ${GRID_KINDS.join(', ')})`);
  }
  const { writePng } = await import('../world/png.js');
  try {
    writePng(out, exampleGrid(kind as (typeof GRID_KINDS)[number], seed, scale));
  } catch (e) {
    throw new UserError(`cannot write ${out}: ${(e as Error).message}`);
  }
  return 0;
}
