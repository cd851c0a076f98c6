/**
 * `t2i-align labelers add NAME | list | reset-token NAME`: manage who may sign in to
 * `t2i-align serve`. Tokens are printed once on stdout (messages go to stderr) and stored hashed.
 */

import { openFeedbackDb } from '../feedback/db.js';
import { FeedbackError } from '../feedback/errors.js';
import { type CommandSpec, parseCommand } from './args.js';
import { UserError } from './errors.js';
import { dbUrlFor } from './serve.js';

export const spec: CommandSpec = {
  name: 'labelers',
  summary: 'add labelers and issue their access tokens, list them, reset a token',
  usage: 't2i-align labelers add NAME [--admin] | list | reset-token NAME  (--run DIR | --db URL)',
  options: {
    run: { type: 'string', help: 'run folder whose feedback.db to use' },
    db: { type: 'string', help: 'database URL (default: sqlite:<run>/feedback.db)' },
    admin: { type: 'boolean', default: false, help: 'the labeler may use the admin pages and exports' },
    kind: { type: 'string', default: 'human', help: 'human or simulated' },
  },
  positionals: true,
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const [action, name, ...extra] = parsed.positionals;
  const v = parsed.values;
  if (extra.length > 0) throw new UserError(`unexpected arguments: ${extra.join(' ')}`);
  if (action !== 'add' && action !== 'list' && action !== 'reset-token') {
    throw new UserError(`expected add NAME, list or reset-token NAME, got ${JSON.stringify(action ?? '')}`);
  }
  if ((action === 'add' || action === 'reset-token') && !name) throw new UserError(`${action} needs a NAME`);
  if (action === 'list' && name) throw new UserError('list takes no NAME');
  const kind = v['kind'];
  if (kind !== 'human' && kind !== 'simulated')
    throw new UserError(`--kind must be human or simulated, got ${String(kind)}`);
  let db: Awaited<ReturnType<typeof openFeedbackDb>>;
  try {
    db = await openFeedbackDb(dbUrlFor(v));
  } catch (e) {
    if (e instanceof FeedbackError) throw new UserError(e.message);
    throw new UserError(`cannot open the feedback database: ${(e as Error).message}`);
  }
  try {
    if (action === 'list') {
      const rows = await db.listLabelers();
      for (const l of rows) {
        process.stdout.write(
          `${String(l.id).padStart(4)}  ${l.name.padEnd(24)} ${l.kind.padEnd(9)} ${l.isAdmin ? 'admin' : '     '} ${l.canSignIn ? '' : '(no token)'}\n`,
        );
      }
      return 0;
    }
    const { labeler, token } =
      action === 'add'
        ? await db.addLabeler({ name: name!, isAdmin: v['admin'] === true, kind })
        : await db.resetToken(name!);
    process.stderr.write(
      `${action === 'add' ? 'added' : 'new token for'} labeler "${labeler.name}" (id ${labeler.id}, ${labeler.kind}${labeler.isAdmin ? ', admin' : ''}); ` +
        'the token is shown once and stored hashed:\n',
    );
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (e) {
    if (e instanceof FeedbackError) throw new UserError(e.message);
    throw e;
  } finally {
    await db.close();
  }
}
