/**
 * bench:serve — 50 simulated labelers against a local `t2i-align serve` for 60 s.
 *
 *   npm run bench:serve [-- --labelers 50 --duration 60 --images 30000 --db postgres://...]
 *
 * The server runs in its own process (the real CLI), on a fresh run folder of 32x32 PNGs and a
 * fresh database (the run's SQLite feedback.db by default). Each simulated labeler loops
 * GET /api/queue/next -> GET /images/:id -> POST /api/labels, undoing its last answer now and
 * then, and remembers every acknowledged answer. Afterwards the database is compared with the
 * acknowledgements: an acknowledged label missing or different is "lost"; a second label of one
 * labeler on one image, or an image holding more than labels-per-image labels, is "duplicated".
 * Prints labels/s, p50/p99 latency and both counts (which must be 0; the exit code is 1 otherwise).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PNG } from 'pngjs';
import { openFeedbackDb } from '../src/feedback/db.js';
import type { Category, LabelValue } from '../src/feedback/types.js';

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--child') {
  // The server process: the real CLI.
  const { main } = await import('../src/cli/main.js');
  process.exitCode = await main(process.argv.slice(3));
} else {
  process.exitCode = await bench();
}

function png(rgb: [number, number, number]): Buffer {
  const p = new PNG({ width: 32, height: 32 });
  for (let i = 0; i < 32 * 32; i++) {
    p.data[i * 4] = rgb[0];
    p.data[i * 4 + 1] = rgb[1];
    p.data[i * 4 + 2] = rgb[2];
    p.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(p);
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function startServer(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', self, '--child', 'serve', '--port', '0', ...args],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
}

async function bench(): Promise<number> {
  const { values } = parseArgs({
    options: {
      labelers: { type: 'string', default: '50' },
      duration: { type: 'string', default: '60' },
      images: { type: 'string', default: '30000' },
      'labels-per-image': { type: 'string', default: '2' },
      'undo-every': { type: 'string', default: '25' },
      db: { type: 'string' },
    },
  });
  const nLabelers = Number(values.labelers);
  const duration = Number(values.duration) * 1000;
  const nImages = Number(values.images);
  const k = Number(values['labels-per-image']);
  const undoEvery = Number(values['undo-every']);

  // ---- a run folder and database ----
  const dir = mkdtempSync(join(tmpdir(), 't2i-bench-serve-'));
  let url = `sqlite:${join(dir, 'feedback.db')}`;
  let schema: string | null = null;
  if (values.db) {
    const u = new URL(values.db);
    schema = `t2i_bench_${randomBytes(4).toString('hex')}`;
    u.searchParams.set('schema', schema);
    url = u.toString();
  }
  const t0 = Date.now();
  const db = await openFeedbackDb(url);
  const categories: Category[] = ['count', 'color', 'background', 'combination'];
  const promptIds = await db.insertPrompts(
    categories.map((category, i) => ({
      text: `Prompt ${i} (${category}).`,
      category,
      split: 'feedback' as const,
    })),
  );
  mkdirSync(join(dir, 'images'));
  const pngs = [png([220, 40, 40]), png([40, 160, 60]), png([40, 80, 220]), png([240, 210, 40])];
  const images = [];
  for (let i = 0; i < nImages; i++) {
    const path = `images/${i}.png`;
    writeFileSync(join(dir, path), pngs[i % 4]!);
    images.push({ promptId: promptIds[i % 4]!, path, model: 'original', seed: i, purpose: 'feedback' });
  }
  await db.insertImages(images);
  const people: Array<{ token: string; labeler: { id: number } }> = [];
  for (let i = 0; i < nLabelers; i++)
    people.push(await db.addLabeler({ name: `sim${i}`, kind: 'simulated' }));
  await db.addLabeler({ name: 'admin', isAdmin: true });
  await db.close();
  process.stdout.write(
    `bench:serve: ${nImages} images, ${nLabelers} labelers, db ${url.replace(/:[^:@/]*@/, ':***@')} (setup ${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
  );

  const server = await startServer(['--run', dir, '--db', url, '--labels-per-image', String(k)]);

  // ---- the simulated labelers ----
  const lat: Record<'next' | 'image' | 'label' | 'undo', number[]> = {
    next: [],
    image: [],
    label: [],
    undo: [],
  };
  const acked = new Map<string, LabelValue>();
  let created = 0;
  let undone = 0;
  let errors = 0;
  let exhausted = 0;
  const errorSamples: string[] = [];
  const start = performance.now();
  const deadline = start + duration;
  const timed = async (kind: keyof typeof lat, f: () => Promise<Response>): Promise<Response> => {
    const t = performance.now();
    const res = await f();
    await res.clone().arrayBuffer();
    lat[kind].push(performance.now() - t);
    return res;
  };
  const fail = (what: string) => {
    errors++;
    if (errorSamples.length < 5) errorSamples.push(what);
  };
  const worker = async (i: number) => {
    const { token, labeler } = people[i]!;
    const auth = { Authorization: `Bearer ${token}` };
    const json = { ...auth, 'Content-Type': 'application/json' };
    let last: string | null = null;
    let n = 0;
    while (performance.now() < deadline) {
      const next = await timed('next', () => fetch(`${server.url}/api/queue/next`, { headers: auth }));
      if (next.status !== 200) {
        fail(`next ${next.status}`);
        continue;
      }
      const { image } = (await next.json()) as { image: { id: number; url: string } | null };
      if (!image) {
        exhausted++;
        return;
      }
      const img = await timed('image', () => fetch(`${server.url}${image.url}`, { headers: auth }));
      if (img.status !== 200) fail(`image ${img.status}`);
      const value = (['good', 'bad', 'skip'] as const)[(image.id * 31 + i) % 3]!;
      const res = await timed('label', () =>
        fetch(`${server.url}/api/labels`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ imageId: image.id, value }),
        }),
      );
      if (res.status === 201) {
        created++;
        last = `${image.id}/${labeler.id}`;
        acked.set(last, value);
      } else {
        fail(`label ${res.status}: ${await res.text()}`);
      }
      if (undoEvery > 0 && ++n % undoEvery === 0 && last) {
        const u = await timed('undo', () =>
          fetch(`${server.url}/api/labels/undo`, { method: 'POST', headers: json, body: '{}' }),
        );
        const body = (await u.json()) as { undone: { imageId: number } | null };
        if (u.status === 200 && `${body.undone?.imageId}/${labeler.id}` === last) {
          acked.delete(last);
          undone++;
          last = null;
        } else {
          fail(`undo ${u.status}`);
        }
      }
    }
  };
  await Promise.all(people.map((_, i) => worker(i)));
  const elapsed = (performance.now() - start) / 1000;
  server.child.kill('SIGTERM');
  await once(server.child, 'exit');

  // ---- compare the database with the acknowledgements ----
  const check = await openFeedbackDb(url);
  const stored = await check.listLabels({ purpose: 'feedback' });
  await check.close();
  const byKey = new Map<string, number>();
  const perImage = new Map<number, number>();
  for (const l of stored) {
    const key = `${l.imageId}/${l.labelerId}`;
    byKey.set(key, (byKey.get(key) ?? 0) + 1);
    perImage.set(l.imageId, (perImage.get(l.imageId) ?? 0) + 1);
  }
  const storedValue = new Map(stored.map((l) => [`${l.imageId}/${l.labelerId}`, l.value]));
  const lost = [...acked].filter(([key, v]) => storedValue.get(key) !== v).length;
  const dupPairs = [...byKey.values()].reduce((s, n) => s + (n - 1), 0);
  const overfull = [...perImage.values()].reduce((s, n) => s + Math.max(0, n - k), 0);
  const duplicated = dupPairs + overfull;
  const unacked = stored.filter((l) => !acked.has(`${l.imageId}/${l.labelerId}`)).length;

  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const line = (name: string, xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `  ${name.padEnd(22)} n=${String(s.length).padStart(7)}  p50 ${ms(percentile(s, 0.5)).padStart(9)}  p99 ${ms(percentile(s, 0.99)).padStart(9)}`;
  };
  const all = [...lat.next, ...lat.image, ...lat.label, ...lat.undo];
  const engine = values.db ? 'PostgreSQL' : 'SQLite (WAL, synchronous=FULL)';
  process.stdout.write(
    [
      '',
      `bench:serve — ${nLabelers} simulated labelers for ${elapsed.toFixed(1)} s against t2i-align serve on ${engine}, ${k} labels per image`,
      `labels/s:            ${(created / elapsed).toFixed(1)}   (${created} labels acknowledged, ${undone} undone, ${stored.length} stored)`,
      `requests/s:          ${(all.length / elapsed).toFixed(1)}`,
      'latency:',
      line('POST /api/labels', lat.label),
      line('GET /api/queue/next', lat.next),
      line('GET /images/:id', lat.image),
      line('POST /api/labels/undo', lat.undo),
      line('all requests', all),
      `errors:              ${errors}${errorSamples.length ? ` (${errorSamples.join('; ')})` : ''}`,
      `queue exhausted for: ${exhausted} of ${nLabelers} labelers`,
      `lost labels:         ${lost}`,
      `duplicated labels:   ${duplicated}   (same labeler twice: ${dupPairs}, beyond ${k} per image: ${overfull}; stored but never acknowledged: ${unacked})`,
      '',
    ].join('\n'),
  );

  if (schema) {
    const u = new URL(values.db!);
    const c = new pg.Client({ connectionString: u.toString() });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
  rmSync(dir, { recursive: true, force: true });
  return lost === 0 && duplicated === 0 && unacked === 0 && errors === 0 ? 0 : 1;
}
