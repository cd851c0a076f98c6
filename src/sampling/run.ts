/**
 * The run folder (DESIGN.md, "File formats and run layout"), as the method's stages see it:
 *
 *   runs/<name>/config.json     resolved settings, one key per stage ("feedback", "reward", "finetune.<name>", ...)
 *   runs/<name>/feedback.db     prompts, images, labels, rewards (src/feedback/)
 *   runs/<name>/images/         PNGs; their paths in the database are relative to the run folder
 *   runs/<name>/models/         checkpoints written by the stages (reward/, finetuned/, ...)
 *   runs/<name>/cache/          derived data that can always be rebuilt (CLIP embeddings)
 *
 * Every stage reads what the previous one wrote, so each can be re-run or resumed on its own.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { type FeedbackDb, openFeedbackDb } from '../feedback/db.js';
import { writeFileAtomic } from '../models/checkpoint.js';

export const RUN_CONFIG = 'config.json';
export const RUN_DB = 'feedback.db';

/** `sqlite:<run>/feedback.db`, the default database of a run. */
export function runDbUrl(runDir: string): string {
  return `sqlite:${join(runDir, RUN_DB)}`;
}

/** Opens the run's database (or `dbUrl`, e.g. a PostgreSQL URL), creating the run folder. */
export async function openRunDb(runDir: string, dbUrl?: string): Promise<FeedbackDb> {
  mkdirSync(runDir, { recursive: true });
  return openFeedbackDb(dbUrl ?? runDbUrl(runDir));
}

/** The run's config.json as an object ({} when the run has none yet). */
export function readRunConfig(runDir: string): Record<string, unknown> {
  const path = join(runDir, RUN_CONFIG);
  if (!existsSync(path)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error(`${path}: must hold a JSON object`);
  return raw as Record<string, unknown>;
}

/** Sets one top-level key of the run's config.json (written through a temporary file and a rename). */
export function updateRunConfig(runDir: string, key: string, value: unknown): void {
  mkdirSync(runDir, { recursive: true });
  const cfg = readRunConfig(runDir);
  cfg[key] = value;
  writeFileAtomic(join(runDir, RUN_CONFIG), `${JSON.stringify(cfg, null, 2)}\n`);
}

/** Folder of a model the stages write: runs/<name>/models/<model>. */
export function runModelDir(runDir: string, name: string): string {
  return join(runDir, 'models', name);
}

/** Path of `file` relative to the run folder with forward slashes, or null when it lies outside. */
export function pathInRun(runDir: string, file: string): string | null {
  const rel = relative(resolve(runDir), resolve(file));
  if (rel === '' || rel.startsWith('..') || resolve(rel) === rel) return null;
  return rel.split(sep).join('/');
}

/** A model name as the database stores it (images.model, rewards.reward_model): letters, digits, _ . - */
export function checkModelName(name: string, what = 'model name'): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new Error(
      `${what} "${name}" must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit`,
    );
  }
  return name;
}
