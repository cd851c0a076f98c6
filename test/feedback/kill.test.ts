/**
 * Durability: a label is acknowledged only after its transaction committed, so killing the server
 * process (SIGKILL, no chance to flush anything) while labelers work loses no acknowledged label.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { openFeedbackDb } from '../../src/feedback/db.js';
import type { LabelValue } from '../../src/feedback/types.js';
import { dropUrl, engines, freshUrl, seedRun, spawnServe, tempDir } from './helpers.js';

const LABELERS = 6;

for (const engine of await engines()) {
  describe(`server killed mid-labeling on ${engine.name}`, { skip: engine.skip }, () => {
    it('keeps every acknowledged label, duplicates none, and restarts', async () => {
      const dir = tempDir();
      const url = freshUrl(engine.name, dir);
      const setup = await openFeedbackDb(url);
      const run = await seedRun(setup, dir, 60); // 240 images
      const people = await Promise.all(
        Array.from({ length: LABELERS }, (_, i) => setup.addLabeler({ name: `worker${i}` })),
      );
      await setup.addLabeler({ name: 'admin', isAdmin: true });
      await setup.close();

      const server = await spawnServe(['--run', dir, '--db', url]);
      const acked = new Map<string, LabelValue>(); // `${imageId}/${labelerId}` -> value
      const uncertain = new Set<string>(); // an undo was in flight when the server died
      let stop = false;
      let failures = 0;
      const undoMismatches: string[] = [];
      const worker = async (i: number) => {
        const { token, labeler } = people[i]!;
        const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
        let last: string | null = null;
        let n = 0;
        while (!stop) {
          try {
            const next = (await (await fetch(`${server.url}/api/queue/next`, { headers })).json()) as {
              image: { id: number } | null;
            };
            if (!next.image) return;
            const value = (['good', 'bad', 'skip'] as const)[(next.image.id * 7 + i) % 3]!;
            const res = await fetch(`${server.url}/api/labels`, {
              method: 'POST',
              headers,
              body: JSON.stringify({ imageId: next.image.id, value }),
            });
            if (res.status === 201 || res.status === 200) {
              last = `${next.image.id}/${labeler.id}`;
              acked.set(last, value);
            } else {
              await res.text();
            }
            if (++n % 5 === 0 && last) {
              // undo now and then: the label goes away once the undo is acknowledged
              uncertain.add(last);
              const u = await fetch(`${server.url}/api/labels/undo`, { method: 'POST', headers, body: '{}' });
              const body = (await u.json()) as { undone: { imageId: number } | null };
              if (`${body.undone?.imageId}/${labeler.id}` !== last) undoMismatches.push(last);
              acked.delete(last);
              uncertain.delete(last);
              last = null;
            }
          } catch {
            failures++; // the server is gone: whatever was in flight is not acknowledged
            return;
          }
        }
      };
      const workers = Array.from({ length: LABELERS }, (_, i) => worker(i));
      const deadline = Date.now() + 15_000;
      while (acked.size < 60 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.child.kill('SIGKILL');
      await once(server.child, 'exit').catch(() => {});
      stop = true;
      await Promise.all(workers);
      assert.ok(acked.size >= 60, `labelers got ${acked.size} acknowledgements before the kill`);
      assert.ok(failures > 0, 'the kill interrupted labelers mid-request');
      assert.deepEqual(undoMismatches, [], 'undo removed the last acknowledged label');

      const db = await openFeedbackDb(url); // SQLite replays its WAL here
      try {
        const stored = await db.labelsForImages(run.imageIds);
        const byKey = new Map(stored.map((l) => [`${l.imageId}/${l.labelerId}`, l.value]));
        const lost = [...acked].filter(([k, v]) => !uncertain.has(k) && byKey.get(k) !== v);
        assert.deepEqual(lost, [], 'acknowledged labels missing after the kill');
        assert.equal(byKey.size, stored.length, 'no duplicated (image, labeler) label');
        const perImage = new Map<number, number>();
        for (const l of stored) perImage.set(l.imageId, (perImage.get(l.imageId) ?? 0) + 1);
        for (const img of await db.listImages({ purpose: 'feedback' })) {
          assert.ok((perImage.get(img.id) ?? 0) <= 2, `image ${img.id} has more than 2 labels`);
          assert.equal(img.nLabels, perImage.get(img.id) ?? 0, `image ${img.id} label count`);
        }
        // what is stored beyond the acknowledgements can only be answers whose reply the kill cut off
        const unacked = stored.filter((l) => !acked.has(`${l.imageId}/${l.labelerId}`));
        assert.ok(unacked.length <= LABELERS * 2, `${unacked.length} stored labels were never acknowledged`);
      } finally {
        await db.close();
      }

      // the database is usable by a new server process, which also stops cleanly on SIGTERM
      const again = await spawnServe(['--run', dir, '--db', url]);
      try {
        const headers = { Authorization: `Bearer ${people[0]!.token}` };
        const next = await fetch(`${again.url}/api/queue/next`, { headers });
        assert.equal(next.status, 200);
        await next.json();
      } finally {
        again.child.kill('SIGTERM');
        const [code] = await once(again.child, 'exit');
        assert.equal(code, 0, again.output());
        await dropUrl(url);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
