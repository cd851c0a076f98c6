import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PNG } from 'pngjs';
import type { FeedbackDb } from '../../src/feedback/db.js';
import { createApp } from '../../src/feedback/server.js';
import { engines, freshRun, rawQuery, type TestRun } from './helpers.js';

type App = ReturnType<typeof createApp>;

interface Ctx {
  app: App;
  db: FeedbackDb;
  url: string;
  run: TestRun;
  tokens: Record<'alice' | 'bob' | 'admin', string>;
  done: () => Promise<void>;
}

async function setup(engine: 'sqlite' | 'postgres', opts: { maxBodyBytes?: number } = {}): Promise<Ctx> {
  const { db, url, run, done } = await freshRun(engine, 2); // 8 images
  const tokens = {
    alice: (await db.addLabeler({ name: 'alice' })).token,
    bob: (await db.addLabeler({ name: 'bob' })).token,
    admin: (await db.addLabeler({ name: 'admin', isAdmin: true })).token,
  };
  const app = createApp({
    db,
    runDir: run.dir,
    labelsPerImage: 2,
    ratersPerQuery: 3,
    winThreshold: 2,
    ...opts,
  });
  return { app, db, url, run, tokens, done };
}

function call(
  app: App,
  path: string,
  init: { method?: string; token?: string; json?: unknown; body?: string; type?: string } = {},
) {
  const headers: Record<string, string> = {};
  if (init.token) headers['Authorization'] = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (init.body !== undefined) {
    body = init.body;
    if (init.type) headers['Content-Type'] = init.type;
  }
  return app.request(path, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
}

async function expectError(res: Response, status: number, code?: string) {
  assert.equal(res.status, status, await res.clone().text());
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(typeof body.error.message, 'string');
  if (code) assert.equal(body.error.code, code);
}

for (const engine of await engines()) {
  describe(`HTTP API on ${engine.name}`, { skip: engine.skip }, () => {
    it('signs in with name + token (cookie) or bearer; refuses others with JSON 401', async () => {
      const c = await setup(engine.name);
      try {
        await expectError(await call(c.app, '/api/me'), 401, 'unauthorized');
        await expectError(await call(c.app, '/api/queue/next', { token: 'garbage' }), 401);
        await expectError(
          await call(c.app, '/api/session', { json: { name: 'bob', token: c.tokens.alice } }),
          401,
        );
        const res = await call(c.app, '/api/session', { json: { name: 'alice', token: c.tokens.alice } });
        assert.equal(res.status, 200);
        const cookie = res.headers.get('set-cookie')!;
        assert.match(cookie, /t2i_token=/);
        assert.match(cookie, /HttpOnly/);
        assert.match(cookie, /SameSite=Strict/);
        const me = await c.app.request('/api/me', { headers: { Cookie: cookie.split(';')[0]! } });
        assert.equal(((await me.json()) as { labeler: { name: string } }).labeler.name, 'alice');
        const me2 = await call(c.app, '/api/me', { token: c.tokens.bob });
        assert.equal(((await me2.json()) as { labeler: { name: string } }).labeler.name, 'bob');
        // security headers on every answer
        assert.match(me2.headers.get('content-security-policy') ?? '', /default-src 'self'/);
        assert.equal(me2.headers.get('x-content-type-options'), 'nosniff');
      } finally {
        await c.done();
      }
    });

    it('labels through the queue, undoes, and reports progress', async () => {
      const c = await setup(engine.name);
      try {
        const next = await call(c.app, '/api/queue/next', { token: c.tokens.alice });
        const n = (await next.json()) as {
          image: { id: number; url: string; prompt: string };
          progress: { total: number };
        };
        assert.equal(n.image.id, c.run.imageIds[0]);
        assert.equal(n.image.url, `/images/${n.image.id}`);
        assert.equal(n.image.prompt, 'Two dogs.');
        assert.equal(n.progress.total, 8);
        const post = await call(c.app, '/api/labels', {
          token: c.tokens.alice,
          json: { imageId: n.image.id, value: 'good' },
        });
        assert.equal(post.status, 201);
        assert.equal(((await post.json()) as { status: string }).status, 'created');
        const again = await call(c.app, '/api/labels', {
          token: c.tokens.alice,
          json: { imageId: n.image.id, value: 'good' },
        });
        assert.equal(again.status, 200, 'a retried answer is idempotent');
        await expectError(
          await call(c.app, '/api/labels', {
            token: c.tokens.alice,
            json: { imageId: n.image.id, value: 'bad' },
          }),
          409,
          'conflict',
        );
        const n2 = (await (await call(c.app, '/api/queue/next', { token: c.tokens.alice })).json()) as {
          image: { id: number };
        };
        assert.notEqual(n2.image.id, n.image.id);
        const undo = await call(c.app, '/api/labels/undo', { token: c.tokens.alice, json: {} });
        assert.deepEqual(((await undo.json()) as { undone: { imageId: number } }).undone.imageId, n.image.id);
        const n3 = (await (await call(c.app, '/api/queue/next', { token: c.tokens.alice })).json()) as {
          image: { id: number };
        };
        assert.equal(n3.image.id, n.image.id, 'the undone image comes back');
        const prog = (await (await call(c.app, '/api/progress', { token: c.tokens.alice })).json()) as Record<
          string,
          number
        >;
        assert.deepEqual([prog['labeled'], prog['available'], prog['total']], [0, 8, 8]);
      } finally {
        await c.done();
      }
    });

    it('validates every input with a 4xx JSON error', async () => {
      const c = await setup(engine.name, { maxBodyBytes: 1024 });
      try {
        const t = c.tokens.alice;
        await expectError(
          await call(c.app, '/api/labels', { token: t, json: { imageId: 987654, value: 'good' } }),
          404,
          'not_found',
        );
        await expectError(
          await call(c.app, '/api/labels', {
            token: t,
            json: { imageId: c.run.imageIds[0], value: 'great' },
          }),
          400,
          'invalid_label',
        );
        await expectError(
          await call(c.app, '/api/labels', { token: t, json: { imageId: '1', value: 'good' } }),
          400,
        );
        await expectError(
          await call(c.app, '/api/labels', { token: t, json: { imageId: -3, value: 'good' } }),
          400,
        );
        await expectError(await call(c.app, '/api/labels', { token: t, json: [1, 2] }), 400, 'invalid_body');
        await expectError(
          await call(c.app, '/api/labels', {
            token: t,
            body: 'imageId=1&value=good',
            type: 'application/x-www-form-urlencoded',
          }),
          415,
          'unsupported_media_type',
        );
        await expectError(
          await call(c.app, '/api/labels', { token: t, body: '{"imageId": 1,', type: 'application/json' }),
          400,
          'invalid_json',
        );
        await expectError(
          await call(c.app, '/api/labels', {
            token: t,
            json: { imageId: c.run.imageIds[0], value: 'good', pad: 'x'.repeat(5000) },
          }),
          413,
          'payload_too_large',
        );
        await expectError(
          await call(c.app, '/api/votes', {
            token: t,
            json: { comparisonId: 1, alignment: 'up', fidelity: 'tie' },
          }),
          400,
          'invalid_vote',
        );
        await expectError(
          await call(c.app, '/api/votes', {
            token: t,
            json: { comparisonId: 77, alignment: 'left', fidelity: 'tie' },
          }),
          404,
        );
        await expectError(await call(c.app, '/api/nope', { token: t }), 404, 'not_found');
        await expectError(await call(c.app, '/api/session', { json: { name: 'alice' } }), 400);
        const labels = await c.db.labelsForLabeler((await c.db.authenticate(t))!.id);
        assert.equal(labels.length, 0, 'no refused request wrote anything');
      } finally {
        await c.done();
      }
    });

    it("a labeler cannot read or change another labeler's labels", async () => {
      const c = await setup(engine.name);
      try {
        const img = c.run.imageIds[0]!;
        assert.equal(
          (await call(c.app, '/api/labels', { token: c.tokens.alice, json: { imageId: img, value: 'good' } }))
            .status,
          201,
        );
        const bobLabels = (await (await call(c.app, '/api/labels', { token: c.tokens.bob })).json()) as {
          labels: unknown[];
        };
        assert.deepEqual(bobLabels.labels, []);
        const aliceId = (await c.db.authenticate(c.tokens.alice))!.id;
        // the labeler is the token's, never the body's
        await expectError(
          await call(c.app, '/api/labels', {
            token: c.tokens.bob,
            json: { imageId: img, value: 'bad', labelerId: aliceId },
          }),
          400,
          'invalid_body',
        );
        const undo = (await (
          await call(c.app, '/api/labels/undo', { token: c.tokens.bob, json: {} })
        ).json()) as { undone: unknown };
        assert.equal(undo.undone, null);
        // bob labeling the same image adds his own label and leaves alice's alone
        assert.equal(
          (await call(c.app, '/api/labels', { token: c.tokens.bob, json: { imageId: img, value: 'bad' } }))
            .status,
          201,
        );
        const rows = await c.db.labelsForImages([img]);
        assert.deepEqual(rows.map((r) => r.value).sort(), ['bad', 'good']);
        assert.equal(rows.find((r) => r.labelerId === aliceId)!.value, 'good');
        // and the admin exports are closed to labelers
        await expectError(
          await call(c.app, '/api/admin/export/labels.jsonl', { token: c.tokens.bob }),
          403,
          'forbidden',
        );
      } finally {
        await c.done();
      }
    });

    it('serves images from the run folder only: path traversal is impossible', async () => {
      const c = await setup(engine.name);
      const secretDir = join(c.run.dir, '..', `${c.run.dir.split('/').pop()}-secret`);
      try {
        const t = c.tokens.alice;
        const ok = await call(c.app, `/images/${c.run.imageIds[0]}`, { token: t });
        assert.equal(ok.status, 200);
        assert.equal(ok.headers.get('content-type'), 'image/png');
        const png = PNG.sync.read(Buffer.from(await ok.arrayBuffer()));
        assert.equal(png.width, 32);
        await expectError(await call(c.app, `/images/${c.run.imageIds[0]}`), 401);
        // a secret beside the run folder, and rows that point at it (written around the validating API)
        mkdirSync(secretDir, { recursive: true });
        writeFileSync(join(secretDir, 'secret.png'), 'TOP SECRET');
        symlinkSync(join(secretDir, 'secret.png'), join(c.run.dir, 'images', 'link.png'));
        const evil = [
          '../' + secretDir.split('/').pop() + '/secret.png',
          '/etc/passwd',
          'images/link.png',
          'feedback.db',
          'images/../../x.png',
        ];
        const evilIds: number[] = [];
        for (const [i, p] of evil.entries()) {
          await insertRawImage(c, p, i);
          evilIds.push(await imageIdByPath(c, p));
        }
        for (const id of evilIds) {
          const res = await call(c.app, `/images/${id}`, { token: t });
          const text = await res.text();
          assert.equal(res.status, 404, `image ${id}`);
          assert.ok(!text.includes('TOP SECRET'));
        }
        for (const path of [
          '/images/..%2F..%2Fetc%2Fpasswd',
          '/images/../feedback.db',
          '/images/%2e%2e%2ffeedback.db',
          '/images/1%00.png',
          '/images/1.png',
          '/static/..%2Fserver.ts',
          '/static/%2e%2e%2fdb.ts',
          '/static/../../package.json',
          '/images/-1',
        ]) {
          const res = await call(c.app, path, { token: t });
          assert.equal(res.status, 404, path);
          assert.ok(!(await res.text()).includes('TOP SECRET'), path);
        }
      } finally {
        rmSync(secretDir, { recursive: true, force: true });
        await c.done();
      }
    });

    it('comparison task: anonymized sides map back to sets A and B', async () => {
      const c = await setup(engine.name);
      try {
        const imgs = await c.db.listImages({ promptId: c.run.promptIds.count });
        // 2 images per prompt in this fixture: sets of 1 image each
        const [cid] = await c.db.createComparisons([
          {
            promptId: c.run.promptIds.count,
            modelA: 'finetuned',
            modelB: 'original',
            setA: [imgs[0]!.id],
            setB: [imgs[1]!.id],
            aOnLeft: false,
          },
        ]);
        const res = await call(c.app, '/api/compare/next', { token: c.tokens.alice });
        const body = (await res.json()) as { comparison: Record<string, unknown> };
        assert.equal(body.comparison['id'], cid);
        assert.deepEqual(body.comparison['left'], [{ id: imgs[1]!.id, url: `/images/${imgs[1]!.id}` }]);
        assert.ok(!JSON.stringify(body).includes('finetuned'), 'no model names reach the rater');
        const vote = await call(c.app, '/api/votes', {
          token: c.tokens.alice,
          json: { comparisonId: cid, alignment: 'left', fidelity: 'tie' },
        });
        assert.equal(vote.status, 201);
        const panel = (await c.db.panelResults({ ratersPerQuery: 3 }))['finetuned_vs_original']!;
        // left was set B (aOnLeft false)
        assert.deepEqual([panel.alignment.per_query[0]!.b, panel.fidelity.per_query[0]!.tie], [1, 1]);
      } finally {
        await c.done();
      }
    });

    it('admin: summary with Table 2, exports and JSONL import need the admin token', async () => {
      const c = await setup(engine.name);
      try {
        for (const [i, id] of c.run.imageIds.entries()) {
          await call(c.app, '/api/labels', {
            token: c.tokens.alice,
            json: { imageId: id, value: i % 2 ? 'bad' : 'good' },
          });
          await call(c.app, '/api/labels', {
            token: c.tokens.bob,
            json: { imageId: id, value: i % 4 === 3 ? 'skip' : 'good' },
          });
        }
        await expectError(await call(c.app, '/api/admin/summary', { token: c.tokens.alice }), 403);
        await expectError(await call(c.app, '/api/admin/summary'), 401);
        const s = (await (await call(c.app, '/api/admin/summary', { token: c.tokens.admin })).json()) as {
          table2: Array<{ category: string; images: number; goodPct: number }>;
          agreement: { method: string; kappa: number };
          progress: { total: { complete: number } };
        };
        assert.deepEqual(
          s.table2.map((r) => r.category),
          ['count', 'color', 'background', 'combination', 'total'],
        );
        assert.equal(s.table2[4]!.images, 8);
        assert.equal(s.progress.total.complete, 8);
        assert.equal(s.agreement.method, 'cohen');
        const jsonl = await call(c.app, '/api/admin/export/labels.jsonl', { token: c.tokens.admin });
        assert.match(jsonl.headers.get('content-type')!, /application\/x-ndjson/);
        const lines = (await jsonl.text()).trim().split('\n');
        assert.equal(lines.length, 16);
        const ls = (await (
          await call(c.app, '/api/admin/export/label-studio.json', { token: c.tokens.admin })
        ).json()) as unknown[];
        assert.equal(ls.length, 8);

        // import: another labeler's labels, by image path
        const imported = lines
          .map((l) => JSON.parse(l) as { labeler: string })
          .filter((r) => r.labeler === 'alice')
          .slice(0, 3)
          .map((r) => ({ ...r, labeler: 'carol' }));
        const body = imported.map((r) => JSON.stringify(r)).join('\n');
        await expectError(
          await call(c.app, '/api/admin/import', { token: c.tokens.admin, body, type: 'application/json' }),
          415,
        );
        await expectError(
          await call(c.app, '/api/admin/import', {
            token: c.tokens.alice,
            body,
            type: 'application/x-ndjson',
          }),
          403,
        );
        await expectError(
          await call(c.app, '/api/admin/import', {
            token: c.tokens.admin,
            body: body + '\n{oops',
            type: 'application/x-ndjson',
          }),
          400,
        );
        const ok = await call(c.app, '/api/admin/import', {
          token: c.tokens.admin,
          body,
          type: 'application/x-ndjson',
        });
        assert.deepEqual(await ok.json(), { inserted: 3, unchanged: 0, conflicting: 0, labelersCreated: 1 });
        const add = await call(c.app, '/api/admin/labelers', {
          token: c.tokens.admin,
          json: { name: 'dave' },
        });
        assert.equal(add.status, 201);
        const { token } = (await add.json()) as { token: string };
        assert.equal((await call(c.app, '/api/me', { token })).status, 200);
      } finally {
        await c.done();
      }
    });

    it('serves the UI pages and assets', async () => {
      const c = await setup(engine.name);
      try {
        for (const [path, needle] of [
          ['/', 'Sign in'],
          ['/label', 'Undo last answer'],
          ['/compare', 'Which set matches the text better?'],
          ['/admin', 'paper Table 2'],
          ['/static/label.js', 'api/queue/next'],
        ] as const) {
          const res = await c.app.request(path);
          assert.equal(res.status, 200, path);
          assert.ok((await res.text()).includes(needle), path);
        }
      } finally {
        await c.done();
      }
    });
  });
}

async function insertRawImage(c: Ctx, path: string, i: number): Promise<void> {
  // Deliberately bypasses FeedbackDb.insertImages (which refuses such paths) to prove the server
  // does not trust the database either.
  const { openDriver } = await import('../../src/feedback/sql.js');
  const d = await openDriver(c.url);
  try {
    await d.tx((q) =>
      q.run(
        "INSERT INTO images (prompt_id, path, model, purpose, created_at) VALUES (?, ?, 'original', 'evil', ?)",
        [c.run.promptIds.count, path, `2024-01-0${i + 1}T00:00:00.000Z`],
      ),
    );
  } finally {
    await d.close();
  }
}

async function imageIdByPath(c: Ctx, path: string): Promise<number> {
  const rows = await rawQuery<{ id: number }>(c.url, 'SELECT id FROM images WHERE path = ?', [path]);
  return Number(rows[0]!.id);
}
