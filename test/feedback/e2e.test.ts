/**
 * End-to-end in headless Chromium (Debian's /usr/bin/chromium through playwright-core): a labeler
 * labels 10 images by keyboard and undoes one, a rater completes a comparison, the admin page shows
 * the Table 2 summary. With T2I_SCREENSHOTS=1 the screenshots go to docs/img/ (committed);
 * otherwise to a temporary folder.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import type { FeedbackDb } from '../../src/feedback/db.js';
import { type RunningServer, startServer } from '../../src/feedback/server.js';
import type { LabelValue } from '../../src/feedback/types.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../chromium.js';
import { engines, freshRun, REPO, seedRun, type TestRun } from './helpers.js';

const keepShots = process.env['T2I_SCREENSHOTS'] === '1';

// The same browser journeys on both engines; the docs' screenshots come from the SQLite run.
for (const engine of await engines()) {
  describe(`web UI in headless Chromium (${engine.name})`, {
    skip: existsSync(CHROMIUM) ? engine.skip : `${CHROMIUM} not installed`,
  }, () => {
    const docsShots = keepShots && engine.name === 'sqlite';
    const shotsDir = docsShots ? join(REPO, 'docs', 'img') : mkdtempSync(join(tmpdir(), 't2i-shots-'));
    let db: FeedbackDb;
    let run: TestRun;
    let done: () => Promise<void>;
    let server: RunningServer;
    let browser: BrowserContext;
    let page: Page;
    let profile: string;
    const tokens: Record<string, string> = {};

    before(async () => {
      ({ db, run, done } = await freshRun(engine.name, 4)); // 16 feedback images
      for (const name of ['lena', 'rita']) tokens[name] = (await db.addLabeler({ name })).token;
      tokens['admin'] = (await db.addLabeler({ name: 'admin', isAdmin: true })).token;
      server = await startServer({ db, runDir: run.dir, port: 0 });
      profile = mkdtempSync(join(tmpdir(), 't2i-chromium-'));
      browser = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1100, height: 860 },
        args: [...CHROMIUM_ARGS],
      });
      page = browser.pages()[0] ?? (await browser.newPage());
      page.setDefaultTimeout(15_000);
      mkdirSync(shotsDir, { recursive: true });
    });

    after(async () => {
      await browser?.close();
      await server?.close();
      await done?.();
      rmSync(profile, { recursive: true, force: true });
      if (!docsShots) rmSync(shotsDir, { recursive: true, force: true });
    });

    async function signIn(name: string, next: string, shot?: string) {
      await page.goto(`${server.url}/?next=${encodeURIComponent(next)}`);
      await page.fill('#name', name);
      await page.fill('#token', tokens[name]!);
      if (shot) await page.screenshot({ path: join(shotsDir, shot) });
      await page.click('#submit');
      await page.waitForURL(`${server.url}${next}`);
    }

    const state = () => page.getAttribute('#app', 'data-state');
    const imageId = async () => Number(await page.getAttribute('#app', 'data-image-id'));

    it('a labeler signs in, labels 10 images by keyboard, undoes one; the database holds exactly the answers', async () => {
      await signIn('lena', '/label', 'feedback-signin.png');
      await page.waitForSelector('#app[data-state="ready"]');
      const keys: Record<string, LabelValue> = { g: 'good', b: 'bad', s: 'skip' };
      const plan = ['g', 'b', 's', 'g', 'b', 'g', 'g', 's', 'b', 'g'];
      const expected = new Map<number, LabelValue>();
      for (const [i, key] of plan.entries()) {
        const id = await imageId();
        assert.equal(await state(), 'ready');
        assert.ok(!expected.has(id), `image ${id} served twice`);
        await page.keyboard.press(key);
        expected.set(id, keys[key]!);
        await page.waitForFunction((prev) => {
          const app = document.getElementById('app')!;
          return app.dataset['state'] === 'ready' && app.dataset['imageId'] !== String(prev);
        }, id);
        if (i === 4) {
          // undo the fifth answer: the same image comes back, and gets a different answer
          await page.keyboard.press('u');
          await page.waitForFunction((prev) => {
            const app = document.getElementById('app')!;
            return app.dataset['state'] === 'ready' && app.dataset['imageId'] === String(prev);
          }, id);
          assert.match((await page.textContent('#status')) ?? '', new RegExp(`Undone: image ${id} was bad`));
          await page.keyboard.press('s');
          expected.set(id, 'skip');
          await page.waitForFunction((prev) => {
            const app = document.getElementById('app')!;
            return app.dataset['state'] === 'ready' && app.dataset['imageId'] !== String(prev);
          }, id);
        }
      }
      assert.match((await page.textContent('#progress')) ?? '', /You have labeled 10 images/);
      await page.screenshot({ path: join(shotsDir, 'feedback-label.png') });
      const lena = (await db.authenticate(tokens['lena']!))!;
      const stored = await db.labelsForLabeler(lena.id);
      assert.equal(stored.length, 10);
      assert.deepEqual(new Map(stored.map((l) => [l.imageId, l.value])), expected);
    });

    it('a rater completes a comparison of two anonymized sets', async () => {
      const evalRun = await seedRun(db, run.dir, 8, 'eval');
      const evalImages = await db.listImages({ purpose: 'eval', promptId: evalRun.promptIds.combination });
      const [cid] = await db.createComparisons(
        [
          {
            promptId: evalRun.promptIds.combination,
            modelA: 'finetuned',
            modelB: 'original',
            setA: evalImages.slice(0, 4).map((i) => i.id),
            setB: evalImages.slice(4, 8).map((i) => i.id),
          },
        ],
        { seed: 1 },
      );
      const comp = (await db.getComparison(cid!))!;
      await signIn('rita', '/compare');
      await page.waitForSelector('#app[data-state="ready"]');
      assert.equal(await page.textContent('#prompt'), 'Two blue dogs in the forest.');
      assert.equal(await page.locator('#left img').count(), 4);
      assert.equal(await page.locator('#right img').count(), 4);
      assert.ok(await page.isDisabled('#submit'));
      await page.keyboard.press('1'); // alignment: left
      await page.click('[data-question="fidelity"] [data-choice="tie"]');
      await page.screenshot({ path: join(shotsDir, 'feedback-compare.png'), fullPage: true });
      await page.click('#submit');
      await page.waitForSelector('#app[data-state="done"]');
      const panel = (await db.panelResults())['finetuned_vs_original']!;
      const q = panel.alignment.per_query.find((p) => p.comparisonId === cid)!;
      // "left" is set A exactly when the comparison put A on the left
      assert.deepEqual([q.a, q.b, q.tie], comp.aOnLeft ? [1, 0, 0] : [0, 1, 0]);
      const f = panel.fidelity.per_query.find((p) => p.comparisonId === cid)!;
      assert.deepEqual([f.a, f.b, f.tie], [0, 0, 1]);
    });

    it('the admin page shows the Table 2 summary', async () => {
      // a second labeler's answers so that agreement and complete images show up too
      const other = await db.addLabeler({ name: 'otto' });
      const lena = (await db.authenticate(tokens['lena']!))!;
      for (const l of await db.labelsForLabeler(lena.id)) {
        await db.recordLabel({
          imageId: l.imageId,
          labelerId: other.labeler.id,
          value: l.value === 'skip' ? 'bad' : l.value,
        });
      }
      // a finished panel for the results section: 9 simulated raters on 6 more queries
      const evalImages = await db.listImages({ purpose: 'eval', promptId: run.promptIds.count });
      const panelRaters = await Promise.all(
        Array.from({ length: 9 }, (_, i) => db.ensureLabeler({ name: `panel${i}`, kind: 'simulated' })),
      );
      const spec = {
        promptId: run.promptIds.count,
        modelA: 'finetuned',
        modelB: 'original',
        setA: evalImages.slice(0, 4).map((i) => i.id),
        setB: evalImages.slice(4, 8).map((i) => i.id),
      };
      const extra = await db.createComparisons(Array.from({ length: 6 }, () => spec));
      await db.recordVotes(
        extra.flatMap((comparisonId, q) =>
          panelRaters.map((r, i) => ({
            comparisonId,
            raterId: r.id,
            alignment: i < 4 + q ? ('a' as const) : i % 2 ? ('b' as const) : ('tie' as const),
            fidelity: i < 3 + (q % 3) ? ('a' as const) : ('tie' as const),
          })),
        ),
      );
      await page.goto(`${server.url}/admin`);
      await page.waitForSelector('#app[data-state="forbidden"]'); // rita is no admin
      await signIn('admin', '/admin');
      await page.waitForSelector('#app[data-state="ready"]');
      const rows = await page.$$eval('#table2 tbody tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
      );
      const summary = await db.table2Summary();
      assert.deepEqual(
        rows,
        summary.map((r) => [
          r.category === 'total' ? 'Total' : r.category[0]!.toUpperCase() + r.category.slice(1),
          String(r.images),
          r.goodPct.toFixed(1),
          r.badPct.toFixed(1),
          r.skipPct.toFixed(1),
          String(r.labels),
        ]),
      );
      assert.equal(rows.at(-1)![5], '20');
      assert.match((await page.textContent('#kappa')) ?? '', /Cohen's κ = [-0-9.]+ over 10 images/);
      await page.screenshot({ path: join(shotsDir, 'feedback-admin.png'), fullPage: true });
    });
  });
}
