import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openFeedbackDb } from '../../src/feedback/db.js';
import { dropUrl, engines, freshUrl, runCli, tempDir } from './helpers.js';

describe('t2i-align labelers / serve commands', () => {
  it('labelers add prints a working token; duplicates and bad input exit 2 with one line', async () => {
    const dir = tempDir();
    try {
      const add = await runCli(['labelers', 'add', 'alice', '--run', dir]);
      assert.equal(add.code, 0, add.stderr);
      const token = add.stdout.trim();
      assert.match(token, /^t2i_\d+_[A-Za-z0-9_-]{32}$/);
      assert.match(add.stderr, /added labeler "alice"/);
      const admin = await runCli(['labelers', 'add', 'boss', '--admin', '--run', dir]);
      assert.equal(admin.code, 0, admin.stderr);
      const db = await openFeedbackDb(`sqlite:${join(dir, 'feedback.db')}`);
      try {
        assert.equal((await db.signIn('alice', token))?.name, 'alice');
        assert.equal((await db.authenticate(admin.stdout.trim()))?.isAdmin, true);
      } finally {
        await db.close();
      }
      const dup = await runCli(['labelers', 'add', 'alice', '--run', dir]);
      assert.equal(dup.code, 2);
      assert.equal(dup.stderr.trim().split('\n').length, 1);
      assert.match(dup.stderr, /exists already/);
      const list = await runCli(['labelers', 'list', '--run', dir]);
      assert.equal(list.code, 0);
      assert.match(list.stdout, /alice/);
      assert.match(list.stdout, /boss\s+human\s+admin/);
      const bad = await runCli(['serve', '--run', join(dir, 'missing')]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

for (const engine of await engines()) {
  if (engine.name !== 'postgres') continue;
  describe('t2i-align labelers on postgres', { skip: engine.skip }, () => {
    it('adds a labeler through --db postgres://', async () => {
      const dir = tempDir();
      const url = freshUrl('postgres', dir);
      try {
        const add = await runCli(['labelers', 'add', 'pgalice', '--db', url]);
        assert.equal(add.code, 0, add.stderr);
        const db = await openFeedbackDb(url);
        try {
          assert.equal((await db.signIn('pgalice', add.stdout.trim()))?.name, 'pgalice');
        } finally {
          await db.close();
        }
      } finally {
        await dropUrl(url);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
