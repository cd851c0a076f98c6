/**
 * Shared fixtures of the feedback tests: a database per test on each engine (SQLite file, or a
 * fresh PostgreSQL schema), small PNGs in a temporary run folder, and a child-process server.
 *
 * PostgreSQL is found through env T2I_TEST_PG (default postgres://t2i:t2i@127.0.0.1:5432/t2i_test,
 * what scripts/setup-system.sh creates). When it is unreachable the PostgreSQL tests are skipped
 * with the reason, except under CI=true, where they run and fail.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PNG } from 'pngjs';
import { type FeedbackDb, openFeedbackDb } from '../../src/feedback/db.js';
import type { Category, NewPrompt } from '../../src/feedback/types.js';

export const PG_URL = process.env['T2I_TEST_PG'] ?? 'postgres://t2i:t2i@127.0.0.1:5432/t2i_test';
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function probePg(): Promise<string | null> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return null;
  } catch (e) {
    return (e as Error).message || String(e);
  } finally {
    await c.end().catch(() => {});
  }
}

export interface Engine {
  name: 'sqlite' | 'postgres';
  /** false, or why this engine's tests are skipped. */
  skip: string | false;
}

let enginesCache: Promise<Engine[]> | undefined;
/** Both engines; PostgreSQL carries a skip reason when unreachable (never under CI=true). */
export function engines(): Promise<Engine[]> {
  enginesCache ??= (async () => {
    const problem = await probePg();
    const skip =
      problem === null || process.env['CI'] === 'true'
        ? false
        : `PostgreSQL unreachable at ${PG_URL.replace(/:[^:@/]*@/, ':***@')} (${problem}); set T2I_TEST_PG or run scripts/setup-system.sh`;
    if (skip) process.stderr.write(`# feedback tests: ${skip}\n`);
    return [
      { name: 'sqlite', skip: false },
      { name: 'postgres', skip },
    ];
  })();
  return enginesCache;
}

export function tempDir(prefix = 't2i-feedback-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fresh, empty database URL: a SQLite file in `dir`, or a new PostgreSQL schema. */
export function freshUrl(engine: Engine['name'], dir: string): string {
  if (engine === 'sqlite') return `sqlite:${join(dir, `feedback-${randomBytes(4).toString('hex')}.db`)}`;
  const u = new URL(PG_URL);
  u.searchParams.set('schema', `t2i_test_${randomBytes(6).toString('hex')}`);
  return u.toString();
}

/** Drops what freshUrl created. */
export async function dropUrl(url: string): Promise<void> {
  if (!url.startsWith('postgres')) return;
  const u = new URL(url);
  const schema = u.searchParams.get('schema')!;
  u.searchParams.delete('schema');
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/** Runs raw SQL against a test database (to look beneath the repository API). */
export async function rawQuery<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  if (url.startsWith('sqlite:')) {
    const d = new Database(url.slice('sqlite:'.length), { readonly: true });
    try {
      return d.prepare(sql).all(...params) as T[];
    } finally {
      d.close();
    }
  }
  const u = new URL(url);
  const schema = u.searchParams.get('schema')!;
  u.searchParams.delete('schema');
  const c = new pg.Client({ connectionString: u.toString(), options: `-c search_path=${schema}` });
  await c.connect();
  try {
    let n = 0;
    return (
      await c.query(
        sql.replace(/\?/g, () => `$${++n}`),
        params,
      )
    ).rows as T[];
  } finally {
    await c.end();
  }
}

const COLORS: Record<string, [number, number, number]> = {
  red: [220, 40, 40],
  green: [40, 160, 60],
  blue: [40, 80, 220],
  yellow: [240, 210, 40],
  pink: [240, 130, 190],
  white: [245, 245, 245],
  brown: [130, 80, 40],
  sky: [150, 200, 240],
  grass: [120, 190, 90],
  sand: [230, 200, 140],
};

/** A 32x32 PNG: a background color and `count` squares of a foreground color (a stand-in for a scene). */
export function scenePng(bg: string, fg: string, count: number, size = 32): Buffer {
  const png = new PNG({ width: size, height: size });
  const b = COLORS[bg] ?? [200, 200, 200];
  const f = COLORS[fg] ?? [0, 0, 0];
  const cell = Math.floor(size / 3);
  const spots: Array<[number, number]> = [];
  for (let i = 0; i < count; i++)
    spots.push([1 + (i % 3) * cell, 1 + Math.floor(i / 3) * cell + (count <= 3 ? cell : 0)]);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let c = b;
      for (const [sx, sy] of spots) {
        const inside = x >= sx + 1 && x < sx + cell - 2 && y >= sy + 1 && y < sy + cell - 2;
        const edge = x >= sx && x < sx + cell - 1 && y >= sy && y < sy + cell - 1;
        if (inside) c = f;
        else if (edge) c = [30, 30, 30];
      }
      const o = (y * size + x) * 4;
      png.data[o] = c[0];
      png.data[o + 1] = c[1];
      png.data[o + 2] = c[2];
      png.data[o + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

const PROMPTS: Array<NewPrompt & { look: [string, string, number] }> = [
  { text: 'Two dogs.', category: 'count', split: 'feedback', look: ['grass', 'brown', 2] },
  { text: 'A green colored dog.', category: 'color', split: 'feedback', look: ['sand', 'green', 1] },
  { text: 'A dog in the sea.', category: 'background', split: 'feedback', look: ['sky', 'brown', 1] },
  {
    text: 'Two blue dogs in the forest.',
    category: 'combination',
    split: 'feedback',
    look: ['grass', 'blue', 2],
  },
];

export interface TestRun {
  dir: string;
  promptIds: Record<Category, number>;
  imageIds: number[];
}

/**
 * Writes `perPrompt` PNGs for each of four prompts (one per category) under dir/images/ and
 * inserts prompts and images (purpose 'feedback', model 'original').
 */
export async function seedRun(
  db: FeedbackDb,
  dir: string,
  perPrompt: number,
  purpose = 'feedback',
): Promise<TestRun> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const ids = await db.insertPrompts(PROMPTS.map(({ look: _look, ...p }) => p));
  const promptIds = Object.fromEntries(PROMPTS.map((p, i) => [p.category, ids[i]!])) as Record<
    Category,
    number
  >;
  const images = [];
  for (let j = 0; j < perPrompt; j++) {
    for (const [i, p] of PROMPTS.entries()) {
      const [bg, fg, count] = p.look;
      const path = `images/${purpose}-${i}-${j}.png`;
      // vary the count so that some images are "wrong", like a misaligned model's samples
      writeFileSync(join(dir, path), scenePng(bg, fg, Math.max(1, (count + j) % 5)));
      images.push({ promptId: ids[i]!, path, model: 'original', seed: j, sampler: { steps: 2 }, purpose });
    }
  }
  const imageIds = await db.insertImages(images);
  return { dir, promptIds, imageIds };
}

/** A database on `engine` in a fresh run folder with seeded images; `done()` closes and deletes it. */
export async function freshRun(
  engine: Engine['name'],
  perPrompt = 3,
): Promise<{ db: FeedbackDb; url: string; run: TestRun; done: () => Promise<void> }> {
  const dir = tempDir();
  const url = freshUrl(engine, dir);
  const db = await openFeedbackDb(url);
  const run = await seedRun(db, dir, perPrompt);
  return {
    db,
    url,
    run,
    done: async () => {
      await db.close();
      await dropUrl(url);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Spawns `t2i-align ARGS` from source; resolves with the exit code and output. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'test/feedback/cli-entry.ts'), ...args],
      {
        cwd: REPO,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Starts `t2i-align serve` in a child process and waits for its "listening on URL" line. */
export function spawnServe(
  args: string[],
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'test/feedback/cli-entry.ts'), 'serve', '--port', '0', ...args],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within 30 s:\n${out}`));
    }, 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening:\n${out}`));
    });
  });
}
