/**
 * `t2i-align evaluate`: evaluates any set of models on the 120 evaluation prompts (paper Table 4) or
 * on a prompt file, writes metrics.json (DESIGN.md contract), details.json and the HTML report, and
 * stores the rater panels' comparisons and votes in the feedback database (src/eval/, src/report/).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { MetricsJson } from '../eval/metrics.js';
import { type CommandSpec, numberOption, parseCommand, stringOption } from './args.js';
import { UserError } from './errors.js';
import { Progress } from './progress.js';

export const EVALUATE_SPEC: CommandSpec = {
  name: 'evaluate',
  summary: 'evaluate models on the evaluation prompts: metrics.json, rater panels, HTML report',
  usage:
    't2i-align evaluate --models original,finetuned,rejection16to4 [--run DIR] [--prompts FILE] [--out DIR]',
  options: {
    models: {
      type: 'string',
      help:
        'comma-separated models: a name under <run>/models/ or <run>/samples/ (rejection sampling), "original" ' +
        "(the run's original model), a checkpoint or samples folder, or name=FOLDER",
    },
    run: {
      type: 'string',
      help: 'run folder: model folders, reward model, held-out labels (reward-model section) and its feedback.db',
    },
    prompts: {
      type: 'string',
      help: 'prompt file in the world grammar (one per line, or JSONL with "prompt"); default: the 120 of Table 4',
    },
    every: { type: 'string', default: '1', help: 'with the default prompts: every n-th of the 120' },
    out: { type: 'string', help: 'report folder (default: <run>/report)' },
    images: {
      type: 'string',
      help: 'where sampled evaluation images go, one folder per model (default: <run>/images/eval, else <out>/images)',
    },
    reward: { type: 'string', help: 'reward model of reward_mean (default: <run>/models/reward)' },
    clip: { type: 'string', help: "CLIP of the CLIP score and the FD (default: the reward model's CLIP)" },
    seed: {
      type: 'string',
      default: '0',
      help: 'image k of prompt i has seed + 16 i + k (as `sample --candidates 16`)',
    },
    'per-prompt': { type: 'string', default: '4', help: 'images per prompt and model (paper: sets of 4)' },
    'fd-images': { type: 'string', default: '2000', help: 'held-out corpus renders in the FD reference set' },
    panels: {
      type: 'string',
      help:
        'comma-separated <a>_vs_<b> rater panels, or "none" (default: those of finetuned_vs_original, rejection16to4_vs_original, ' +
        'finetuned_vs_rejection16to4 whose models are evaluated)',
    },
    raters: { type: 'string', default: '9', help: 'raters per panel query (paper: 9)' },
    ablation: {
      type: 'string',
      default: '0.1,0.25,0.5,1',
      help: 'shares of the labels for the human-data-size ablation (needs --run), or "none"',
    },
    preset: {
      type: 'string',
      help: 'label written as metrics.json "preset" (default: the run\'s demo preset, else "custom")',
    },
    'grid-models': { type: 'string', help: 'rows of the image grids (default: original,finetuned)' },
    title: { type: 'string', default: 't2i-align evaluation', help: 'title of the HTML report' },
    batch: { type: 'string', default: '64', help: 'images per sampling batch' },
    device: { type: 'string', default: 'cpu', help: 'cpu, cuda or cuda:N' },
    db: {
      type: 'string',
      help: 'database URL (default: sqlite:<run>/feedback.db, else sqlite:<out>/feedback.db)',
    },
  },
};

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(EVALUATE_SPEC, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const runDir = typeof v['run'] === 'string' ? v['run'] : null;
  if (runDir && !existsSync(runDir)) throw new UserError(`no such run folder: ${runDir}`);
  const out = typeof v['out'] === 'string' ? v['out'] : runDir ? join(runDir, 'report') : null;
  if (!out) throw new UserError('give --out DIR (or --run DIR, whose report/ it then is)');
  const seed = numberOption(v, 'seed', { integer: true, min: 0 });
  const perPrompt = numberOption(v, 'per-prompt', { integer: true, min: 1 });
  const fdImages = numberOption(v, 'fd-images', { integer: true, min: 2 });
  const raters = numberOption(v, 'raters', { integer: true, min: 1 });
  const batch = numberOption(v, 'batch', { integer: true, min: 1 });
  const every = numberOption(v, 'every', { integer: true, min: 1 });
  const device = String(v['device']);
  const ablation =
    stringOption(v, 'ablation') === 'none' ? [] : list(stringOption(v, 'ablation')).map(Number);
  if (ablation.some((f) => !(f > 0 && f <= 1)))
    throw new UserError(`--ablation must list shares in (0, 1], got "${String(v['ablation'])}"`);

  const { evalItems, table4Texts } = await import('../eval/eval_set.js');
  const { readPromptFile } = await import('./generate.js');
  let items: ReturnType<typeof evalItems>;
  try {
    items = evalItems(typeof v['prompts'] === 'string' ? readPromptFile(v['prompts']) : table4Texts(every));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError((e as Error).message);
  }

  const models = list(stringOption(v, 'models')).map((token) => resolveModel(token, runDir));
  const { PAPER_PANELS } = await import('../eval/metrics.js');
  const { parsePanelName } = await import('../eval/panel.js');
  const names = models.map((m) => m.name);
  let panels: ReturnType<typeof parsePanelName>[];
  try {
    panels =
      v['panels'] === 'none'
        ? []
        : typeof v['panels'] === 'string'
          ? list(v['panels']).map(parsePanelName)
          : PAPER_PANELS.map(parsePanelName).filter((p) => names.includes(p.a) && names.includes(p.b));
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  for (const p of panels)
    for (const m of [p.a, p.b])
      if (!names.includes(m)) throw new UserError(`--panels ${p.name}: model "${m}" is not in --models`);

  const rewardDir =
    typeof v['reward'] === 'string' ? v['reward'] : runDir ? join(runDir, 'models', 'reward') : null;
  if (!rewardDir || !existsSync(join(rewardDir, 'config.json')))
    throw new UserError(
      `no reward model${rewardDir ? ` at ${rewardDir}` : ''}: give --reward DIR or --run DIR with a trained reward model (t2i-align reward train)`,
    );
  const { readRunConfig, updateRunConfig } = await import('../sampling/run.js');
  const demo = runDir ? (readRunConfig(runDir)['demo'] as { preset?: string } | undefined) : undefined;
  const preset = typeof v['preset'] === 'string' ? v['preset'] : (demo?.preset ?? 'custom');
  const root = runDir ?? out;
  const imagesDir = typeof v['images'] === 'string' ? v['images'] : join(root, 'images', 'eval');

  const { openFeedbackDb } = await import('../feedback/db.js');
  const { FeedbackError } = await import('../feedback/errors.js');
  const dbUrl = typeof v['db'] === 'string' ? v['db'] : `sqlite:${join(root, 'feedback.db')}`;
  mkdirSync(root, { recursive: true });
  let db: Awaited<ReturnType<typeof openFeedbackDb>>;
  try {
    db = await openFeedbackDb(dbUrl);
  } catch (e) {
    if (e instanceof FeedbackError) throw new UserError(e.message);
    throw new UserError(`cannot open the feedback database: ${(e as Error).message}`);
  }
  const { runEvaluation } = await import('../eval/run_eval.js');
  const { EvalInputError } = await import('../eval/model_images.js');
  const { CheckpointError } = await import('../models/checkpoint.js');
  const { reportFromFolder } = await import('../report/report.js');
  let stop = false;
  const onSignal = () => {
    process.stderr.write(
      'evaluate: interrupted, stopping after the current batch (run the same command to resume)...\n',
    );
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const log = (line: string) => process.stderr.write(`${line}\n`);
    log(
      `evaluate: ${models.map((m) => `${m.name} (${m.source.dir})`).join(', ')} on ${items.length} prompts, ${perPrompt} images each`,
    );
    let result: Awaited<ReturnType<typeof runEvaluation>>;
    try {
      result = await runEvaluation({
        preset,
        models,
        items,
        seed,
        perPrompt,
        imagesDir,
        rewardDir,
        clipDir: typeof v['clip'] === 'string' ? v['clip'] : undefined,
        fdImages,
        panels,
        panelOptions: { raters },
        store: { db, root },
        databaseLabel: dbUrl,
        labeled: runDir ? { runDir, db } : null,
        ablationFractions: runDir ? ablation : [],
        outDir: out,
        batch,
        device,
        shouldStop: () => stop,
        progress: (label, total, unit) => new Progress(label, total, unit),
        log,
      });
    } catch (e) {
      if (e instanceof EvalInputError || e instanceof CheckpointError || e instanceof FeedbackError)
        throw new UserError(e.message);
      throw e;
    }
    if (!result) {
      process.stdout.write('evaluate: stopped; run the same command again to continue\n');
      return 0;
    }
    const gridModels = typeof v['grid-models'] === 'string' ? list(v['grid-models']) : undefined;
    await reportFromFolder(out, { title: String(v['title']), gridModels });
    // the resolved settings: beside the report, and in the run's config.json
    const resolved = {
      models: models.map((m) => ({ name: m.name, kind: m.source.kind, dir: m.source.dir })),
      prompts: typeof v['prompts'] === 'string' ? v['prompts'] : `table4 (every ${every})`,
      items: items.length,
      seed,
      per_prompt: perPrompt,
      fd_images: fdImages,
      panels: panels.map((p) => p.name),
      raters,
      ablation: runDir ? ablation : [],
      reward: rewardDir,
      clip: typeof v['clip'] === 'string' ? v['clip'] : null,
      images: imagesDir,
      db: dbUrl,
      out,
      preset,
    };
    writeFileSync(join(out, 'evaluate.json'), `${JSON.stringify(resolved, null, 2)}\n`);
    if (runDir) updateRunConfig(runDir, 'evaluate', resolved);
    process.stdout.write(formatSummary(result.metrics));
    process.stdout.write(`evaluate: ${join(out, 'metrics.json')} and ${join(out, 'index.html')} written\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await db.close();
  }
}

/**
 * A model named on the command line: "name=FOLDER", a name under <run>/models/ (checkpoint) or
 * <run>/samples/ (rejection sampling), "original" (the run's original model), or a folder.
 */
export function resolveModel(
  token: string,
  runDir: string | null,
): { name: string; source: { kind: 'pipeline' | 'samples'; dir: string } } {
  const kindOf = (dir: string): 'pipeline' | 'samples' | null =>
    existsSync(join(dir, 'manifest.jsonl')) && existsSync(join(dir, 'sample.json'))
      ? 'samples'
      : existsSync(join(dir, 'config.json'))
        ? 'pipeline'
        : null;
  const eq = token.indexOf('=');
  if (eq > 0) {
    const name = token.slice(0, eq);
    const dir = token.slice(eq + 1);
    const kind = kindOf(dir);
    if (!kind)
      throw new UserError(`--models ${token}: ${dir} is neither a checkpoint folder nor a samples folder`);
    return { name: checkName(name), source: { kind, dir } };
  }
  const candidates: string[] = [];
  if (runDir) {
    candidates.push(join(runDir, 'models', token), join(runDir, 'samples', token));
    if (token === 'original') {
      const fb = readFeedbackModel(runDir);
      if (fb) candidates.push(fb);
    }
  }
  candidates.push(token);
  for (const dir of candidates) {
    const kind = kindOf(dir);
    if (kind)
      return { name: checkName(dir === token ? basename(resolve(dir)) : token), source: { kind, dir } };
  }
  throw new UserError(
    `--models: cannot find model "${token}" (looked in ${candidates.join(', ')}); give name=FOLDER for a checkpoint or samples folder`,
  );
}

function checkName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name))
    throw new UserError(
      `model name "${name}" must be 1-64 letters, digits, "_", "." or "-" (give name=FOLDER)`,
    );
  return name;
}

/** The original model a run's feedback set was sampled from (config.json "feedback.model"). */
function readFeedbackModel(runDir: string): string | null {
  const path = join(runDir, 'config.json');
  if (!existsSync(path)) return null;
  try {
    const cfg = JSON.parse(readFileSync(path, 'utf8')) as { feedback?: { model?: unknown } };
    return typeof cfg.feedback?.model === 'string' ? cfg.feedback.model : null;
  } catch {
    return null;
  }
}

/** The summary table (stdout of evaluate and demo): one row per model, then panels and the reward model. */
export function formatSummary(m: MetricsJson): string {
  const pct = (x: number | null | undefined) =>
    x === null || x === undefined ? '-' : `${(100 * x).toFixed(1)}%`;
  const lines: string[] = [];
  const w = Math.max(12, ...Object.keys(m.models).map((n) => n.length));
  lines.push(
    `${'model'.padEnd(w)} ${'seen'.padStart(7)} ${'unseen'.padStart(7)} ${'wellformed'.padStart(10)} ${'reward'.padStart(7)} ${'CLIP'.padStart(7)} ${'FD'.padStart(9)}`,
  );
  for (const [n, r] of Object.entries(m.models)) {
    lines.push(
      `${n.padEnd(w)} ${pct(r.alignment.seen.all).padStart(7)} ${pct(r.alignment.unseen.all).padStart(7)} ${pct(r.wellformed).padStart(10)} ` +
        `${r.reward_mean.toFixed(3).padStart(7)} ${r.clip_score.toFixed(3).padStart(7)} ${r.fd.toFixed(4).padStart(9)}`,
    );
  }
  if (Object.keys(m.panel).length) {
    lines.push(
      '',
      `${'panel (7+ of 9 votes)'.padEnd(32)} ${'alignment'.padStart(9)} ${'fidelity'.padStart(9)}`,
    );
    for (const [n, p] of Object.entries(m.panel))
      lines.push(
        `${n.padEnd(32)} ${pct(p.alignment.win_7plus).padStart(9)} ${pct(p.fidelity.win_7plus).padStart(9)}`,
      );
  }
  if (m.reward_model) {
    const cats = ['count', 'color', 'background', 'combination', 'all'] as const;
    const rm = m.reward_model;
    const row = (label: string, a: Record<(typeof cats)[number], number | null>) =>
      `${label.padEnd(18)} ${cats.map((c) => pct(a[c]).padStart(11)).join(' ')}`;
    const ablation = (rows: readonly { fraction: number; accuracy: number | null }[]) =>
      rows.map((r) => `${(100 * r.fraction).toFixed(0)}% -> ${pct(r.accuracy)}`).join(', ');
    lines.push('', `${'held-out accuracy'.padEnd(18)} ${cats.map((c) => c.padStart(11)).join(' ')}`);
    lines.push('by prompt (held-out prompts)');
    lines.push(row('reward model', rm.accuracy));
    lines.push(row('CLIP score', rm.clip_score_accuracy));
    if (rm.protocols) {
      lines.push('by image (held-out images of training prompts)');
      lines.push(row('reward model', rm.protocols.images.accuracy));
      lines.push(row('CLIP score', rm.protocols.images.clip_score_accuracy));
    }
    if (rm.size_ablation.length) lines.push(`size ablation, by prompt: ${ablation(rm.size_ablation)}`);
    const byImage = rm.protocols?.images.size_ablation;
    if (byImage?.length) lines.push(`size ablation, by image:  ${ablation(byImage)}`);
  }
  return `${lines.join('\n')}\n`;
}
