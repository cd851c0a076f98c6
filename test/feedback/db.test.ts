import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { openFeedbackDb } from '../../src/feedback/db.js';
import { FeedbackError } from '../../src/feedback/errors.js';
import { parseLabelJsonl, toJsonl, toLabelStudio } from '../../src/feedback/export.js';
import { SCHEMA_VERSION } from '../../src/feedback/migrations.js';
import type { LabelValue } from '../../src/feedback/types.js';
import { dropUrl, engines, freshRun, freshUrl, rawQuery, seedRun, tempDir } from './helpers.js';

const code = (c: FeedbackError['code']) => (e: unknown) => e instanceof FeedbackError && e.code === c;

for (const engine of await engines()) {
  describe(`feedback db on ${engine.name}`, { skip: engine.skip }, () => {
    it('migrates once, records the version, and reopens without reapplying', async () => {
      const dir = tempDir();
      const url = freshUrl(engine.name, dir);
      try {
        const db = await openFeedbackDb(url);
        assert.equal(await db.schemaVersion(), SCHEMA_VERSION);
        await db.close();
        const again = await openFeedbackDb(url);
        assert.equal(await again.schemaVersion(), SCHEMA_VERSION);
        await again.close();
        const rows = await rawQuery<{ version: number }>(url, 'SELECT version FROM schema_migrations');
        assert.deepEqual(
          rows.map((r) => Number(r.version)),
          [SCHEMA_VERSION],
        );
        if (engine.name === 'sqlite') {
          const mode = await rawQuery<{ journal_mode: string }>(url, 'PRAGMA journal_mode');
          assert.equal(mode[0]!.journal_mode, 'wal');
        }
      } finally {
        await dropUrl(url);
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('inserts prompts and images idempotently, validates paths, filters listImages', async () => {
      const { db, run, done } = await freshRun(engine.name, 2);
      try {
        assert.equal(run.imageIds.length, 8);
        const again = await db.insertPrompts([{ text: 'Two dogs.', category: 'count', split: 'feedback' }]);
        assert.deepEqual(again, [run.promptIds.count]);
        await assert.rejects(
          db.insertPrompts([{ text: 'Two dogs.', category: 'color', split: 'feedback' }]),
          code('conflict'),
        );
        // the same text may be an eval prompt too (paper: seen eval prompts come from the feedback set)
        const [evalId] = await db.insertPrompts([
          { text: 'Two dogs.', category: 'count', split: 'eval_seen', structured: { count: 2 } },
        ]);
        assert.notEqual(evalId, run.promptIds.count);
        const prompts = await db.listPrompts({ split: 'eval_seen' });
        assert.deepEqual(
          prompts.map((p) => [p.text, p.structured]),
          [['Two dogs.', { count: 2 }]],
        );

        const reinsert = await db.insertImages([
          {
            promptId: run.promptIds.count,
            path: 'images/feedback-0-0.png',
            model: 'original',
            purpose: 'feedback',
          },
        ]);
        assert.deepEqual(reinsert, [run.imageIds[0]]);
        for (const bad of [
          '../secret.png',
          '/etc/passwd',
          'images/../../x.png',
          'images\\x.png',
          'C:/x.png',
          '',
        ]) {
          await assert.rejects(
            db.insertImages([
              { promptId: run.promptIds.count, path: bad, model: 'original', purpose: 'feedback' },
            ]),
            code('invalid'),
            bad,
          );
        }
        await assert.rejects(
          db.insertImages([
            { promptId: 999999, path: 'images/z.png', model: 'original', purpose: 'feedback' },
          ]),
          code('not_found'),
        );
        const unl = await db.insertImages(
          Array.from({ length: 450 }, (_, i) => ({
            promptId: run.promptIds.color,
            path: `images/u/${i}.png`,
            model: 'original',
            seed: i,
            sampler: { sampler: 'ddim', steps: 25 },
            purpose: 'unlabeled',
          })),
        );
        assert.equal(new Set(unl).size, 450); // batched across chunks
        const listed = await db.listImages({ purpose: 'unlabeled', limit: 5, offset: 10 });
        assert.deepEqual(
          listed.map((i) => i.seed),
          [10, 11, 12, 13, 14],
        );
        assert.deepEqual(listed[0]!.sampler, { sampler: 'ddim', steps: 25 });
        assert.equal(listed[0]!.category, 'color');
        assert.equal((await db.listImages({ category: 'count', purpose: 'feedback' })).length, 2);
        assert.equal((await db.listImages({ ids: [unl[3]!, run.imageIds[1]!] })).length, 2);
      } finally {
        await done();
      }
    });

    it('issues tokens stored only as hashes; authenticate and signIn check them', async () => {
      const { db, url, done } = await freshRun(engine.name, 1);
      try {
        const { labeler, token } = await db.addLabeler({ name: 'alice' });
        assert.match(token, /^t2i_\d+_[A-Za-z0-9_-]{32}$/);
        const rows = await rawQuery<{ token_hash: string }>(
          url,
          'SELECT token_hash FROM labelers WHERE id = ?',
          [labeler.id],
        );
        assert.notEqual(rows[0]!.token_hash, token);
        assert.ok(!rows[0]!.token_hash.includes(token.slice(-32)));
        assert.equal((await db.authenticate(token))?.name, 'alice');
        assert.equal(await db.authenticate(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), null);
        assert.equal(await db.authenticate('nonsense'), null);
        assert.equal((await db.signIn('alice', token))?.id, labeler.id);
        assert.equal(await db.signIn('bob', token), null);
        await assert.rejects(db.addLabeler({ name: 'alice' }), code('conflict'));
        await assert.rejects(db.addLabeler({ name: '../x' }), code('invalid'));
        const reset = await db.resetToken('alice');
        assert.equal(await db.authenticate(token), null);
        assert.equal((await db.authenticate(reset.token))?.id, labeler.id);
        const sim = await db.ensureLabeler({ name: 'judge', kind: 'simulated' });
        assert.equal(sim.canSignIn, false);
        assert.equal((await db.ensureLabeler({ name: 'judge', kind: 'simulated' })).id, sim.id);
        assert.equal(await db.hasAdmin(), false);
        await db.addLabeler({ name: 'root', isAdmin: true });
        assert.equal(await db.hasAdmin(), true);
      } finally {
        await done();
      }
    });

    it('queue: k distinct labelers per image, nobody twice, leases keep a third labeler away', async () => {
      const { db, run, done } = await freshRun(engine.name, 1); // 4 images
      try {
        const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => db.addLabeler({ name })));
        const ia = await db.nextImage(a!.labeler.id);
        assert.equal(ia?.id, run.imageIds[0]);
        assert.equal((await db.nextImage(a!.labeler.id))?.id, ia!.id, 'the same image until answered');
        const ib = await db.nextImage(b!.labeler.id);
        assert.equal(ib?.id, ia!.id, 'a second labeler gets the same image (k = 2)');
        const ic = await db.nextImage(c!.labeler.id);
        assert.notEqual(ic?.id, ia!.id, 'a third labeler does not: two leases fill it');
        // c cannot label the full image either
        await assert.rejects(
          db.recordLabel({ imageId: ia!.id, labelerId: c!.labeler.id, value: 'good' }),
          code('full'),
        );
        const r1 = await db.recordLabel({ imageId: ia!.id, labelerId: a!.labeler.id, value: 'good' });
        assert.equal(r1.status, 'created');
        assert.equal(
          (await db.recordLabel({ imageId: ia!.id, labelerId: a!.labeler.id, value: 'good' })).status,
          'unchanged',
        );
        await assert.rejects(
          db.recordLabel({ imageId: ia!.id, labelerId: a!.labeler.id, value: 'bad' }),
          code('conflict'),
        );
        await assert.rejects(
          db.recordLabel({ imageId: 424242, labelerId: a!.labeler.id, value: 'bad' }),
          code('not_found'),
        );
        await assert.rejects(
          db.recordLabel({ imageId: ia!.id, labelerId: a!.labeler.id, value: 'maybe' as LabelValue }),
          code('invalid'),
        );
        // a goes on: the next image is c's (one lease, one slot left) before untouched ones
        assert.equal((await db.nextImage(a!.labeler.id))?.id, ic!.id);
        await db.recordLabel({ imageId: ib!.id, labelerId: b!.labeler.id, value: 'bad' });
        // undo re-serves the image to its labeler and keeps the slot
        const undone = await db.undoLastLabel(b!.labeler.id);
        assert.deepEqual([undone?.imageId, undone?.value], [ia!.id, 'bad']);
        assert.equal((await db.nextImage(b!.labeler.id))?.id, ia!.id);
        await db.recordLabel({ imageId: ia!.id, labelerId: b!.labeler.id, value: 'skip' });
        assert.equal(await db.undoLastLabel(c!.labeler.id), null);
        const labels = await db.labelsForImages([ia!.id]);
        assert.deepEqual(labels.map((l) => [l.labelerId, l.value]).sort(), [
          [a!.labeler.id, 'good'],
          [b!.labeler.id, 'skip'],
        ]);
        const p = await db.labelerProgress(a!.labeler.id);
        assert.deepEqual(p, { labeled: 1, complete: 1, total: 4, labelsPerImage: 2 });
        assert.equal(await db.availableFor(a!.labeler.id), 3);
      } finally {
        await done();
      }
    });

    it('expired leases free their slot', async () => {
      const { db, run, done } = await freshRun(engine.name, 1);
      try {
        const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => db.addLabeler({ name })));
        await db.nextImage(a!.labeler.id, { leaseMs: 1 });
        await db.nextImage(b!.labeler.id, { leaseMs: 1 });
        await new Promise((r) => setTimeout(r, 10));
        assert.equal((await db.nextImage(c!.labeler.id))?.id, run.imageIds[0]);
      } finally {
        await done();
      }
    });

    it('concurrent labelers fill every image with exactly k distinct labels, none lost', async () => {
      const { db, run, done } = await freshRun(engine.name, 5); // 20 images
      try {
        const people = await Promise.all(
          Array.from({ length: 7 }, (_, i) => db.addLabeler({ name: `p${i}` })),
        );
        const acked = new Map<string, LabelValue>();
        await Promise.all(
          people.map(async ({ labeler }, i) => {
            for (;;) {
              const img = await db.nextImage(labeler.id, { labelsPerImage: 2 });
              if (!img) return;
              const value = (['good', 'bad', 'skip'] as const)[(img.id + i) % 3]!;
              const r = await db.recordLabel(
                { imageId: img.id, labelerId: labeler.id, value },
                { labelsPerImage: 2 },
              );
              assert.equal(r.status, 'created');
              acked.set(`${img.id}/${labeler.id}`, value);
            }
          }),
        );
        const all = await db.labelsForImages(run.imageIds);
        assert.equal(all.length, 40);
        assert.equal(acked.size, 40);
        for (const l of all) assert.equal(acked.get(`${l.imageId}/${l.labelerId}`), l.value);
        for (const id of run.imageIds) {
          const mine = all.filter((l) => l.imageId === id);
          assert.equal(new Set(mine.map((l) => l.labelerId)).size, 2, `image ${id}`);
        }
        const n = await db.listImages({ purpose: 'feedback' });
        assert.ok(n.every((i) => i.nLabels === 2));
      } finally {
        await done();
      }
    });

    it('labelers racing for one image: exactly k labels are committed, the rest are refused as full', async () => {
      const { db, run, done } = await freshRun(engine.name, 1);
      try {
        const people = await Promise.all(
          Array.from({ length: 6 }, (_, i) => db.addLabeler({ name: `racer${i}` })),
        );
        const results = await Promise.allSettled(
          people.map(({ labeler }) =>
            db.recordLabel(
              { imageId: run.imageIds[0]!, labelerId: labeler.id, value: 'good' },
              { labelsPerImage: 2 },
            ),
          ),
        );
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
        for (const r of results) {
          if (r.status === 'rejected') assert.ok(code('full')(r.reason), String(r.reason));
        }
        assert.equal((await db.labelsForImages([run.imageIds[0]!])).length, 2);
        assert.equal((await db.getImage(run.imageIds[0]!))!.nLabels, 2);
      } finally {
        await done();
      }
    });

    it('Table 2 summary, progress and agreement from known labels', async () => {
      const { db, run, done } = await freshRun(engine.name, 2); // 8 images, 2 per category
      try {
        const a = (await db.addLabeler({ name: 'ann' })).labeler.id;
        const b = (await db.addLabeler({ name: 'ben' })).labeler.id;
        const values: Array<[LabelValue, LabelValue]> = [
          ['good', 'good'], // count
          ['bad', 'bad'], // color
          ['good', 'bad'], // background
          ['skip', 'bad'], // combination
          ['good', 'good'], // count
          ['good', 'good'], // color
          ['bad', 'bad'], // background
          ['bad', 'bad'], // combination
        ];
        await db.recordLabels(
          run.imageIds.flatMap((imageId, i) => [
            { imageId, labelerId: a, value: values[i]![0] },
            { imageId, labelerId: b, value: values[i]![1] },
          ]),
        );
        const t2 = await db.table2Summary();
        const count = t2.find((r) => r.category === 'count')!;
        assert.deepEqual([count.images, count.labels, count.good, count.goodPct], [2, 4, 4, 100]);
        const comb = t2.find((r) => r.category === 'combination')!;
        assert.deepEqual([comb.good, comb.bad, comb.skip], [0, 3, 1]);
        assert.equal(comb.skipPct, 25);
        const total = t2.find((r) => r.category === 'total')!;
        assert.deepEqual([total.images, total.labels, total.good, total.bad, total.skip], [8, 16, 7, 8, 1]);
        assert.ok(Math.abs(total.goodPct + total.badPct + total.skipPct - 100) < 1e-9);

        const ag = await db.agreement();
        assert.equal(ag.method, 'cohen');
        // ann: good 4, bad 3, skip 1; ben: good 3, bad 5; agree 6 of 8
        const pe = (4 * 3 + 3 * 5 + 0) / 64;
        assert.ok(Math.abs(ag.kappa! - (6 / 8 - pe) / (1 - pe)) < 1e-12);
        assert.equal(ag.byGroup['count']!.kappa, null); // all good: chance agreement 1

        const prog = await db.progress();
        assert.equal(prog.total.complete, 8);
        assert.equal(prog.total.fraction, 1);
        const annStats = prog.byLabeler.find((l) => l.name === 'ann')!;
        assert.deepEqual([annStats.labels, annStats.good, annStats.bad, annStats.skip], [8, 4, 3, 1]);

        const again = await db.recordLabels([
          { imageId: run.imageIds[0]!, labelerId: a, value: 'good' },
          { imageId: run.imageIds[0]!, labelerId: a, value: 'bad' },
        ]);
        assert.deepEqual(again, { inserted: 0, unchanged: 1, conflicting: 1 });
        await assert.rejects(
          db.recordLabels([{ imageId: 99999, labelerId: a, value: 'good' }]),
          code('not_found'),
        );
      } finally {
        await done();
      }
    });

    it('rewards upsert per reward model', async () => {
      const { db, run, done } = await freshRun(engine.name, 1);
      try {
        await db.upsertRewards(
          'rm1',
          run.imageIds.map((imageId, i) => ({ imageId, value: i / 10 })),
        );
        await db.upsertRewards('rm1', [{ imageId: run.imageIds[0]!, value: 0.75 }]);
        await db.upsertRewards('rm2', [{ imageId: run.imageIds[0]!, value: -1.5 }]);
        const r = await db.rewardsFor('rm1');
        assert.deepEqual(
          r.map((x) => x.value),
          [0.75, 0.1, 0.2, 0.3],
        );
        assert.deepEqual(await db.rewardsFor('rm2', { purpose: 'feedback' }), [
          { imageId: run.imageIds[0], rewardModel: 'rm2', value: -1.5 },
        ]);
        await assert.rejects(
          db.upsertRewards('rm1', [{ imageId: run.imageIds[0]!, value: Number.NaN }]),
          code('invalid'),
        );
      } finally {
        await done();
      }
    });

    it('comparisons: k distinct raters per query, seeded left/right, vote histogram and 7+ wins', async () => {
      const { db, run, done } = await freshRun(engine.name, 8); // 8 images per prompt
      try {
        const byPrompt = await db.listImages({ promptId: run.promptIds.count });
        const ids = byPrompt.map((i) => i.id);
        const specs = [0, 1].map(() => ({
          promptId: run.promptIds.count,
          modelA: 'finetuned',
          modelB: 'original',
          setA: ids.slice(0, 4),
          setB: ids.slice(4, 8),
        }));
        const cids = await db.createComparisons(specs, { seed: 3 });
        const sides1 = (await db.listComparisons()).map((c) => c.aOnLeft);
        const cids2 = await db.createComparisons(specs, { seed: 3 });
        const sides2 = (await db.listComparisons()).filter((c) => cids2.includes(c.id)).map((c) => c.aOnLeft);
        assert.deepEqual(sides1, sides2, 'the same seed draws the same sides');
        await assert.rejects(
          db.createComparisons([{ ...specs[0]!, setB: [run.imageIds[1]!] }]),
          (e) => e instanceof FeedbackError && /belongs to prompt/.test(e.message),
        );
        const raters = await Promise.all(
          Array.from({ length: 10 }, (_, i) => db.addLabeler({ name: `r${i}` })),
        );
        // query 1: 8 of 9 prefer A for alignment; fidelity: 3 A, 3 B, 3 tie
        for (const [i, r] of raters.slice(0, 9).entries()) {
          const c = await db.nextComparison(r.labeler.id, { ratersPerQuery: 9 });
          assert.equal(c?.id, cids[0]);
          await db.recordVote(
            {
              comparisonId: cids[0]!,
              raterId: r.labeler.id,
              alignment: i < 8 ? 'a' : 'b',
              fidelity: (['a', 'b', 'tie'] as const)[i % 3]!,
            },
            { ratersPerQuery: 9 },
          );
        }
        // the tenth rater is served another query, and cannot vote on the full one
        assert.notEqual((await db.nextComparison(raters[9]!.labeler.id))?.id, cids[0]);
        await assert.rejects(
          db.recordVote({
            comparisonId: cids[0]!,
            raterId: raters[9]!.labeler.id,
            alignment: 'a',
            fidelity: 'a',
          }),
          code('full'),
        );
        await assert.rejects(
          db.recordVote({
            comparisonId: cids[0]!,
            raterId: raters[0]!.labeler.id,
            alignment: 'tie',
            fidelity: 'a',
          }),
          code('conflict'),
        );
        // query 2: 6 of 9 for A (not a win), via the bulk path
        await db.recordVotes(
          raters.slice(0, 9).map((r, i) => ({
            comparisonId: cids[1]!,
            raterId: r.labeler.id,
            alignment: i < 6 ? 'a' : 'tie',
            fidelity: 'b',
          })),
        );
        const res = (await db.panelResults({ panel: 'finetuned_vs_original' }))['finetuned_vs_original']!;
        assert.equal(res.queries, 4);
        assert.equal(res.complete, 2);
        const hist = new Array(10).fill(0);
        hist[8] = 0.5;
        hist[6] = 0.5;
        assert.deepEqual(res.alignment.votes_hist, hist);
        assert.equal(res.alignment.win_7plus, 0.5);
        assert.equal(res.fidelity.win_7plus, 0);
        assert.deepEqual(res.fidelity.votes_hist[3], 0.5);
        assert.deepEqual(res.fidelity.votes_hist[0], 0.5);
        const q1 = res.alignment.per_query.find((q) => q.comparisonId === cids[0])!;
        assert.deepEqual([q1.a, q1.b, q1.tie], [8, 1, 0]);
        assert.deepEqual(await db.raterProgress(raters[0]!.labeler.id), {
          rated: 2,
          complete: 2,
          total: 4,
          ratersPerQuery: 9,
        });
      } finally {
        await done();
      }
    });

    it('exports JSONL / Label Studio and imports JSONL into another database', async () => {
      const src = await freshRun(engine.name, 1);
      const dst = await freshRun(engine.name, 1);
      try {
        const a = (await src.db.addLabeler({ name: 'ann' })).labeler.id;
        const b = (await src.db.ensureLabeler({ name: 'judge', kind: 'simulated' })).id;
        await src.db.recordLabels([
          { imageId: src.run.imageIds[0]!, labelerId: a, value: 'good' },
          { imageId: src.run.imageIds[0]!, labelerId: b, value: 'bad' },
          { imageId: src.run.imageIds[2]!, labelerId: a, value: 'skip' },
        ]);
        const records = await src.db.exportLabels();
        const text = toJsonl(records);
        assert.equal(text.trim().split('\n').length, 3);
        const first = JSON.parse(text.split('\n')[0]!);
        assert.deepEqual(Object.keys(first).sort(), [
          'category',
          'created_at',
          'image_id',
          'image_path',
          'labeler',
          'labeler_kind',
          'model',
          'prompt',
          'prompt_id',
          'split',
          'value',
        ]);
        const ls = toLabelStudio(records);
        assert.equal(ls.length, 2);
        const task = ls.find((t) => t.id === src.run.imageIds[0])!;
        assert.equal(task.data.prompt, 'Two dogs.');
        assert.deepEqual(task.annotations.map((x) => x.result[0]!.value.choices[0]).sort(), ['bad', 'good']);
        assert.equal(task.annotations[0]!.result[0]!.from_name, 'label');

        const res = await dst.db.importLabels(parseLabelJsonl(text));
        assert.deepEqual(res, { inserted: 3, unchanged: 0, conflicting: 0, labelersCreated: 2 });
        const back = await dst.db.exportLabels();
        assert.deepEqual(
          back.map((r) => [r.image_path, r.labeler, r.labeler_kind, r.value, r.created_at]),
          records.map((r) => [r.image_path, r.labeler, r.labeler_kind, r.value, r.created_at]),
        );
        assert.equal((await dst.db.getImage(dst.run.imageIds[0]!))!.nLabels, 2);
        const twice = await dst.db.importLabels(parseLabelJsonl(text));
        assert.deepEqual(twice, { inserted: 0, unchanged: 3, conflicting: 0, labelersCreated: 0 });
        await assert.rejects(
          dst.db.importLabels([{ image_path: 'images/nope.png', labeler: 'x', value: 'good' }]),
          code('not_found'),
        );
        assert.throws(() => parseLabelJsonl('{"labeler":"x","value":"good"}\nnot json'), /line 1: needs/);
        assert.throws(
          () => parseLabelJsonl('\n{"image_id":1,"labeler":"x","value":"good"}\nnot json'),
          /line 3: not JSON/,
        );
        assert.throws(
          () => parseLabelJsonl('{"image_id":1,"labeler":"x","value":"good","evil":1}'),
          /unknown field/,
        );
      } finally {
        await src.done();
        await dst.done();
      }
    });
  });
}

describe('seedRun writes real PNGs', () => {
  it('the fixture images decode', async () => {
    const dir = tempDir();
    const db = await openFeedbackDb(`sqlite:${dir}/f.db`);
    try {
      const run = await seedRun(db, dir, 1);
      const { PNG } = await import('pngjs');
      const { readFileSync } = await import('node:fs');
      const img = await db.getImage(run.imageIds[0]!);
      const png = PNG.sync.read(readFileSync(`${dir}/${img!.path}`));
      assert.deepEqual([png.width, png.height], [32, 32]);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
