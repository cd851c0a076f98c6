/**
 * `t2i-align serve --run DIR`: the labeling and evaluation web app over a run's feedback database
 * (docs/feedback.md). Prints the admin token the first time (when the database has no admin).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openFeedbackDb } from '../feedback/db.js';
import { FeedbackError } from '../feedback/errors.js';
import { startServer } from '../feedback/server.js';
import { type CommandSpec, numberOption, parseCommand, stringOption } from './args.js';
import { UserError } from './errors.js';

export const spec: CommandSpec = {
  name: 'serve',
  summary: 'serve the labeling, comparison and admin web app of a run',
  usage: 't2i-align serve --run DIR [--port 8080] [--db sqlite:PATH | postgres://user:pass@host/db]',
  options: {
    run: { type: 'string', help: 'run folder (image paths are relative to it)' },
    port: { type: 'string', default: '8080', help: 'TCP port (0 picks a free one)' },
    host: { type: 'string', default: '127.0.0.1', help: 'address to listen on' },
    db: { type: 'string', help: 'database URL (default: sqlite:<run>/feedback.db)' },
    'labels-per-image': { type: 'string', default: '2', help: 'distinct labelers per image (paper: 2)' },
    'raters-per-query': { type: 'string', default: '9', help: 'distinct raters per comparison (paper: 9)' },
    'win-threshold': { type: 'string', default: '7', help: 'votes that win a comparison (paper: 7 of 9)' },
    purpose: { type: 'string', default: 'feedback', help: 'which images the labeling queue serves' },
    'lease-minutes': { type: 'string', default: '10', help: 'how long a served image stays reserved' },
  },
};

/** The database URL of a run: --db, or the run's feedback.db. */
export function dbUrlFor(values: Record<string, unknown>): string {
  if (typeof values['db'] === 'string' && values['db'] !== '') return values['db'];
  const run = values['run'];
  if (typeof run !== 'string' || run === '') throw new UserError('--run DIR (or --db URL) is required');
  return `sqlite:${join(run, 'feedback.db')}`;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const runDir = stringOption(v, 'run');
  if (!existsSync(runDir) || !statSync(runDir).isDirectory())
    throw new UserError(`run folder ${runDir} does not exist`);
  const port = numberOption(v, 'port', { integer: true, min: 0 });
  if (port > 65535) throw new UserError(`--port must be at most 65535, got ${port}`);
  const labelsPerImage = numberOption(v, 'labels-per-image', { integer: true, min: 1 });
  const ratersPerQuery = numberOption(v, 'raters-per-query', { integer: true, min: 1 });
  const winThreshold = numberOption(v, 'win-threshold', { integer: true, min: 1 });
  if (winThreshold > ratersPerQuery) throw new UserError('--win-threshold cannot exceed --raters-per-query');
  const leaseMs = Math.round(numberOption(v, 'lease-minutes', { min: 0.01 }) * 60_000);
  const purpose = stringOption(v, 'purpose');
  if (!/^[a-z][a-z0-9_]{0,31}$/.test(purpose)) {
    throw new UserError(`--purpose must be a lower-case word such as feedback or eval, got "${purpose}"`);
  }

  let db: Awaited<ReturnType<typeof openFeedbackDb>>;
  try {
    db = await openFeedbackDb(dbUrlFor(v));
  } catch (e) {
    if (e instanceof FeedbackError) throw new UserError(e.message);
    throw new UserError(`cannot open the feedback database: ${(e as Error).message}`);
  }
  if (!(await db.hasAdmin())) {
    try {
      const { token } = await db.addLabeler({ name: 'admin', isAdmin: true });
      process.stdout.write(
        `t2i-align serve: created the admin labeler "admin"; its token (shown once, stored hashed):\n  ${token}\n`,
      );
    } catch (e) {
      await db.close();
      if (e instanceof FeedbackError && e.code === 'conflict') {
        throw new UserError(
          'the database has no admin; create one with `t2i-align labelers add NAME --admin`',
        );
      }
      throw e;
    }
  }
  const counts = await db.counts();
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      db,
      runDir,
      port,
      host: stringOption(v, 'host'),
      labelsPerImage,
      ratersPerQuery,
      winThreshold,
      purpose,
      leaseMs,
    });
  } catch (e) {
    await db.close();
    throw new UserError(`cannot listen on port ${port}: ${(e as Error).message}`);
  }
  process.stdout.write(
    `t2i-align serve: listening on ${server.url} (db ${db.describe}; ${counts['images']} images, ` +
      `${counts['labels']} labels, ${counts['labelers']} labelers, ${counts['comparisons']} comparisons)\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write('t2i-align serve: stopping\n');
  await server.close();
  await db.close();
  return 0;
}
