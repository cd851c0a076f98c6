/**
 * The command-group runner shared by `t2i-align feedback|reward|pretrain|world <name>`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subcommandGroup } from '../../src/cli/args.js';
import { UserError } from '../../src/cli/errors.js';

/** Runs `fn` with process.stdout.write captured; returns its result and what it printed. */
async function captureStdout(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await fn(), out };
  } finally {
    process.stdout.write = write;
  }
}

describe('subcommandGroup', () => {
  const calls: string[][] = [];
  const run = subcommandGroup('reward', 'action', {
    train: {
      summary: 'train it',
      run: async (argv) => {
        calls.push(argv);
        return 0;
      },
    },
    score: { summary: 'score it', run: async () => 3 },
    'long-name': { summary: 'a long one', run: async () => 0 },
  });

  it('runs the named entry with the rest of argv and returns its exit code', async () => {
    assert.equal(await run(['train', '--run', 'r1']), 0);
    assert.deepEqual(calls.at(-1), ['--run', 'r1']);
    assert.equal(await run(['score']), 3);
  });

  it('lists the entries: exit 2 with no name, exit 0 when help is asked', async () => {
    const bare = await captureStdout(() => run([]));
    assert.equal(bare.code, 2);
    assert.match(bare.out, /^usage: t2i-align reward <action> \[options\]/);
    assert.match(
      bare.out,
      /\nactions:\n {2}train {8}train it\n {2}score {8}score it\n {2}long-name {4}a long one\n$/,
    );
    for (const flag of ['--help', '-h', 'help']) {
      const asked = await captureStdout(() => run([flag]));
      assert.equal(asked.code, 0);
      assert.equal(asked.out, bare.out);
    }
  });

  it('answers an unknown name with a user error that lists the known ones', async () => {
    await assert.rejects(
      run(['trian']),
      (e: unknown) =>
        e instanceof UserError &&
        e.message === 'unknown reward action "trian" (expected train, score or long-name)',
    );
    // names of Object.prototype are not entries
    await assert.rejects(run(['constructor']), UserError);
  });
});
