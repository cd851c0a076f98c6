/**
 * The labeling server: a Hono app over a FeedbackDb serving the web UI (web/), the images of a
 * run folder and the JSON API documented in docs/feedback.md. `createApp` is what tests drive
 * in-process (app.request); `startServer` listens on a port.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import type { Server } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  checkImagePath,
  DEFAULT_LABELS_PER_IMAGE,
  DEFAULT_LEASE_MS,
  DEFAULT_RATERS_PER_QUERY,
  DEFAULT_WIN_THRESHOLD,
  type FeedbackDb,
} from './db.js';
import { FeedbackError } from './errors.js';
import { LABEL_STUDIO_CONFIG, parseLabelJsonl, toJsonl, toLabelStudio } from './export.js';
import { type Choice, LABEL_VALUES, type LabelerRow, type LabelValue } from './types.js';

export interface AppOptions {
  db: FeedbackDb;
  /** The run folder; image paths in the database are relative to it. */
  runDir: string;
  /** Distinct labelers per image (default 2, the paper's). */
  labelsPerImage?: number;
  /** Distinct raters per comparison query (default 9, the paper's). */
  ratersPerQuery?: number;
  /** Votes for a set that count as a win in the results (default 7 of 9). */
  winThreshold?: number;
  /** Images the labeling queue serves (default 'feedback'). */
  purpose?: string;
  /** How long a served image or query stays reserved for its labeler, in ms (default 10 min). */
  leaseMs?: number;
  /** Largest JSON body accepted, in bytes (default 16 KiB). */
  maxBodyBytes?: number;
  /** Largest JSONL import accepted, in bytes (default 64 MiB). */
  maxImportBytes?: number;
}

export const SESSION_COOKIE = 't2i_token';

/** An HTTP error with a JSON body `{ "error": { "code", "message" } }`. */
export class HttpError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  constructor(status: ContentfulStatusCode, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const FEEDBACK_STATUS: Record<FeedbackError['code'], ContentfulStatusCode> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  full: 409,
};

const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
};

/** Pages and assets of the UI: the only files the server reads besides images. */
const PAGES: Record<string, string> = {
  '/': 'index.html',
  '/label': 'label.html',
  '/compare': 'compare.html',
  '/admin': 'admin.html',
};
const ASSETS: Record<string, string> = {
  'app.css': 'text/css; charset=utf-8',
  'common.js': 'text/javascript; charset=utf-8',
  'index.js': 'text/javascript; charset=utf-8',
  'label.js': 'text/javascript; charset=utf-8',
  'compare.js': 'text/javascript; charset=utf-8',
  'admin.js': 'text/javascript; charset=utf-8',
};

/** The UI files sit beside this module in src/; a compiled dist/ finds them in the package's src/. */
function webDir(): string {
  for (const rel of ['./web/', '../../src/feedback/web/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(resolve(dir, 'index.html'))) return dir;
  }
  throw new Error('feedback server: cannot find the web UI folder (src/feedback/web)');
}

function loadWeb(): Map<string, string> {
  const dir = webDir();
  const files = new Map<string, string>();
  for (const name of [...Object.values(PAGES), ...Object.keys(ASSETS)]) {
    files.set(name, readFileSync(resolve(dir, name), 'utf8'));
  }
  return files;
}

type Env = { Variables: { labeler: LabelerRow } };

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

/** Reads a JSON object body: the content type must be application/json and only `keys` may appear. */
async function readJson(c: Context, keys: readonly string[]): Promise<Record<string, unknown>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json');
  }
  const text = await c.req.text();
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new HttpError(400, 'invalid_body', 'the body must be a JSON object');
  }
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) {
      throw new HttpError(
        400,
        'invalid_body',
        `unknown field "${k}" (allowed: ${keys.join(', ') || 'none'})`,
      );
    }
  }
  return v as Record<string, unknown>;
}

/**
 * Resolves an image path inside the run folder, or null. The stored path is checked again here
 * (the database might have been written by anything), then the resolved and the real (symlinks
 * followed) paths must both stay inside the run folder.
 */
async function resolveInside(root: string, realRoot: string, rel: string): Promise<string | null> {
  try {
    checkImagePath(rel);
  } catch {
    return null;
  }
  const abs = resolve(root, rel);
  if (!abs.startsWith(root + sep)) return null;
  let real: string;
  try {
    real = await realpath(abs);
  } catch {
    return null;
  }
  return real.startsWith(realRoot + sep) ? real : null;
}

export function createApp(opts: AppOptions): Hono<Env> {
  const db = opts.db;
  const root = resolve(opts.runDir);
  let realRoot: string | null = null;
  const queue = {
    labelsPerImage: opts.labelsPerImage ?? DEFAULT_LABELS_PER_IMAGE,
    purpose: opts.purpose ?? 'feedback',
    leaseMs: opts.leaseMs ?? DEFAULT_LEASE_MS,
  };
  const ratersPerQuery = opts.ratersPerQuery ?? DEFAULT_RATERS_PER_QUERY;
  const winThreshold = opts.winThreshold ?? DEFAULT_WIN_THRESHOLD;
  const web = loadWeb();
  // The queue's totals (images, complete) read every image; labelers see them refreshed every 2 s.
  let totals: {
    at: number;
    value: Promise<{ complete: number; total: number; labelsPerImage: number }>;
  } | null = null;
  const progressFor = async (labelerId: number) => {
    if (!totals || Date.now() - totals.at > 2000) totals = { at: Date.now(), value: db.queueTotals(queue) };
    const value = totals.value;
    value.catch(() => {
      if (totals?.value === value) totals = null;
    });
    return { labeled: await db.labeledBy(labelerId, queue), ...(await value) };
  };
  const app = new Hono<Env>();

  app.onError((err, c) => {
    if (err instanceof HttpError)
      return c.json({ error: { code: err.code, message: err.message } }, err.status);
    if (err instanceof FeedbackError) {
      return c.json({ error: { code: err.code, message: err.message } }, FEEDBACK_STATUS[err.code]);
    }
    process.stderr.write(
      `feedback server: ${c.req.method} ${c.req.path}: ${(err as Error).stack ?? String(err)}\n`,
    );
    return c.json({ error: { code: 'internal', message: 'internal server error' } }, 500);
  });
  app.notFound((c) =>
    c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404),
  );

  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
      crossOriginEmbedderPolicy: false,
    }),
  );
  const tooLarge = (limit: number) => (c: Context) =>
    c.json({ error: { code: 'payload_too_large', message: `the body exceeds ${limit} bytes` } }, 413);
  const jsonLimit = opts.maxBodyBytes ?? 16 * 1024;
  const importLimit = opts.maxImportBytes ?? 64 * 1024 * 1024;
  const smallBody = bodyLimit({ maxSize: jsonLimit, onError: tooLarge(jsonLimit) });
  const bigBody = bodyLimit({ maxSize: importLimit, onError: tooLarge(importLimit) });
  app.use('/api/*', (c, next) =>
    c.req.path === '/api/admin/import' ? bigBody(c, next) : smallBody(c, next),
  );

  const auth =
    (admin: boolean): MiddlewareHandler<Env> =>
    async (c, next) => {
      const header = c.req.header('authorization');
      const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
      const token = bearer ?? getCookie(c, SESSION_COOKIE);
      const labeler = token ? await db.authenticate(token) : null;
      if (!labeler) {
        throw new HttpError(
          401,
          'unauthorized',
          'sign in first (POST /api/session with name and token) or send Authorization: Bearer <token>',
        );
      }
      if (admin && !labeler.isAdmin) throw new HttpError(403, 'forbidden', 'this needs the admin token');
      c.set('labeler', labeler);
      await next();
    };

  // ---- UI ---------------------------------------------------------------------------------
  for (const [route, file] of Object.entries(PAGES)) {
    app.get(route, (c) => {
      c.header('Cache-Control', 'no-cache');
      return c.html(web.get(file)!);
    });
  }
  app.get('/static/:name', (c) => {
    const name = c.req.param('name');
    const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!type) throw new HttpError(404, 'not_found', `no asset ${name}`);
    return c.body(web.get(name)!, 200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
  });

  // ---- images -----------------------------------------------------------------------------
  app.get('/images/:id{[0-9]{1,10}}', auth(false), async (c) => {
    const id = Number(c.req.param('id'));
    if (!isPositiveInt(id)) throw new HttpError(404, 'not_found', `image ${id} does not exist`);
    const image = await db.getImage(id);
    if (!image) throw new HttpError(404, 'not_found', `image ${id} does not exist`);
    const type = IMAGE_TYPES[extname(image.path).toLowerCase()];
    realRoot ??= await realpath(root);
    const file = type ? await resolveInside(root, realRoot, image.path) : null;
    if (!file)
      throw new HttpError(404, 'not_found', `image ${id} has no readable file inside the run folder`);
    const data = await readFile(file);
    return c.body(new Uint8Array(data), 200, {
      'Content-Type': type!,
      'Cache-Control': 'private, max-age=86400',
    });
  });

  // ---- session ----------------------------------------------------------------------------
  app.get('/api/health', async (c) =>
    c.json({ ok: true, engine: db.engine, schemaVersion: await db.schemaVersion() }),
  );
  app.post('/api/session', async (c) => {
    const body = await readJson(c, ['name', 'token']);
    if (typeof body['name'] !== 'string' || typeof body['token'] !== 'string') {
      throw new HttpError(400, 'invalid_body', 'send {"name": "...", "token": "..."}');
    }
    const labeler = await db.signIn(body['name'], body['token']);
    if (!labeler) throw new HttpError(401, 'unauthorized', 'unknown name or wrong token');
    setCookie(c, SESSION_COOKIE, body['token'], {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
      secure: new URL(c.req.url).protocol === 'https:',
      maxAge: 60 * 60 * 24 * 30,
    });
    return c.json({ labeler: publicLabeler(labeler) });
  });
  app.delete('/api/session', (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.json({ ok: true });
  });
  app.get('/api/me', auth(false), (c) =>
    c.json({
      labeler: publicLabeler(c.get('labeler')),
      settings: { labelsPerImage: queue.labelsPerImage, ratersPerQuery, purpose: queue.purpose },
    }),
  );

  // ---- labeling ---------------------------------------------------------------------------
  app.get('/api/queue/next', auth(false), async (c) => {
    const me = c.get('labeler');
    const image = await db.nextImage(me.id, queue);
    const progress = await progressFor(me.id);
    return c.json({
      image: image && {
        id: image.id,
        url: `/images/${image.id}`,
        prompt: image.prompt,
        category: image.category,
      },
      progress,
    });
  });
  app.post('/api/labels', auth(false), async (c) => {
    const body = await readJson(c, ['imageId', 'value']);
    if (!isPositiveInt(body['imageId']))
      throw new HttpError(400, 'invalid_body', '"imageId" must be a positive integer');
    const value = body['value'];
    if (typeof value !== 'string' || !(LABEL_VALUES as readonly string[]).includes(value)) {
      throw new HttpError(400, 'invalid_label', `"value" must be one of ${LABEL_VALUES.join(', ')}`);
    }
    const me = c.get('labeler');
    const result = await db.recordLabel(
      { imageId: body['imageId'], labelerId: me.id, value: value as LabelValue },
      queue,
    );
    // Only reached after COMMIT: the response is the acknowledgement.
    return c.json(
      { status: result.status, label: publicLabel(result.label) },
      result.status === 'created' ? 201 : 200,
    );
  });
  app.post('/api/labels/undo', auth(false), async (c) => {
    await readJson(c, []);
    const undone = await db.undoLastLabel(c.get('labeler').id, queue);
    return c.json({ undone: undone && publicLabel(undone) });
  });
  app.get('/api/labels', auth(false), async (c) => {
    const labels = await db.labelsForLabeler(c.get('labeler').id);
    return c.json({ labels: labels.map(publicLabel) });
  });
  app.get('/api/progress', auth(false), async (c) => {
    const me = c.get('labeler');
    const progress = await db.labelerProgress(me.id, queue);
    return c.json({ ...progress, available: await db.availableFor(me.id, queue) });
  });

  // ---- rater panel ------------------------------------------------------------------------
  app.get('/api/compare/next', auth(false), async (c) => {
    const me = c.get('labeler');
    const comp = await db.nextComparison(me.id, { ratersPerQuery, leaseMs: queue.leaseMs });
    const progress = await db.raterProgress(me.id, { ratersPerQuery });
    if (!comp) return c.json({ comparison: null, progress });
    const [left, right] = comp.aOnLeft ? [comp.setA, comp.setB] : [comp.setB, comp.setA];
    const imgs = (ids: number[]) => ids.map((id) => ({ id, url: `/images/${id}` }));
    // Anonymized: no model names and no A/B, only the screen sides.
    return c.json({
      comparison: { id: comp.id, prompt: comp.prompt, left: imgs(left), right: imgs(right) },
      progress,
    });
  });
  app.post('/api/votes', auth(false), async (c) => {
    const body = await readJson(c, ['comparisonId', 'alignment', 'fidelity']);
    if (!isPositiveInt(body['comparisonId'])) {
      throw new HttpError(400, 'invalid_body', '"comparisonId" must be a positive integer');
    }
    for (const q of ['alignment', 'fidelity']) {
      if (!['left', 'right', 'tie'].includes(body[q] as string)) {
        throw new HttpError(400, 'invalid_vote', `"${q}" must be left, right or tie`);
      }
    }
    const comp = await db.getComparison(body['comparisonId']);
    if (!comp) throw new HttpError(404, 'not_found', `comparison ${body['comparisonId']} does not exist`);
    const toChoice = (side: string): Choice =>
      side === 'tie' ? 'tie' : (side === 'left') === comp.aOnLeft ? 'a' : 'b';
    const result = await db.recordVote(
      {
        comparisonId: comp.id,
        raterId: c.get('labeler').id,
        alignment: toChoice(body['alignment'] as string),
        fidelity: toChoice(body['fidelity'] as string),
      },
      { ratersPerQuery },
    );
    return c.json({ status: result.status }, result.status === 'created' ? 201 : 200);
  });

  // ---- admin ------------------------------------------------------------------------------
  const admin = new Hono<Env>();
  admin.use('*', auth(true));
  const agreementWithNames = async () => {
    const [agreement, labelers] = await Promise.all([db.agreement(queue), db.listLabelers()]);
    const names = new Map(labelers.map((l) => [l.id, l.name]));
    return {
      ...agreement,
      pairwise: agreement.pairwise.map((p) => ({
        ...p,
        nameA: names.get(p.raterA),
        nameB: names.get(p.raterB),
      })),
    };
  };
  const panels = () => db.panelResults({ ratersPerQuery, winThreshold });
  admin.get('/summary', async (c) =>
    c.json({
      settings: {
        labelsPerImage: queue.labelsPerImage,
        ratersPerQuery,
        winThreshold,
        purpose: queue.purpose,
      },
      progress: await db.progress(queue),
      table2: await db.table2Summary({ purpose: queue.purpose }),
      agreement: await agreementWithNames(),
      panels: await panels(),
    }),
  );
  admin.get('/progress', async (c) => c.json(await db.progress(queue)));
  admin.get('/table2', async (c) => c.json({ rows: await db.table2Summary({ purpose: queue.purpose }) }));
  admin.get('/agreement', async (c) => c.json(await agreementWithNames()));
  admin.get('/panels', async (c) => c.json(await panels()));
  admin.get('/labelers', async (c) => c.json({ labelers: (await db.listLabelers()).map(publicLabeler) }));
  admin.post('/labelers', async (c) => {
    const body = await readJson(c, ['name', 'admin', 'kind']);
    if (body['admin'] !== undefined && typeof body['admin'] !== 'boolean') {
      throw new HttpError(400, 'invalid_body', '"admin" must be true or false');
    }
    if (body['kind'] !== undefined && body['kind'] !== 'human' && body['kind'] !== 'simulated') {
      throw new HttpError(400, 'invalid_body', '"kind" must be human or simulated');
    }
    const { labeler, token } = await db.addLabeler({
      name: body['name'] as string,
      isAdmin: body['admin'] === true,
      kind: (body['kind'] as 'human' | 'simulated' | undefined) ?? 'human',
    });
    return c.json({ labeler: publicLabeler(labeler), token }, 201);
  });
  const exportPurpose = (c: Context) => {
    const p = c.req.query('purpose');
    return p === undefined ? {} : { purpose: p };
  };
  admin.get('/export/labels.jsonl', async (c) => {
    const body = toJsonl(await db.exportLabels(exportPurpose(c)));
    return c.body(body, 200, {
      'Content-Type': 'application/x-ndjson; charset=utf-8',
      'Content-Disposition': 'attachment; filename="labels.jsonl"',
    });
  });
  admin.get('/export/label-studio.json', async (c) => {
    const tasks = toLabelStudio(await db.exportLabels(exportPurpose(c)));
    c.header('Content-Disposition', 'attachment; filename="label-studio.json"');
    return c.json(tasks);
  });
  admin.get('/export/label-studio-config.xml', (c) =>
    c.body(LABEL_STUDIO_CONFIG, 200, { 'Content-Type': 'application/xml; charset=utf-8' }),
  );
  admin.post('/import', async (c) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-ndjson' && type !== 'application/jsonl') {
      throw new HttpError(
        415,
        'unsupported_media_type',
        'send the labels as application/x-ndjson (one JSON object per line)',
      );
    }
    const records = parseLabelJsonl(await c.req.text());
    if (records.length === 0) throw new HttpError(400, 'invalid_body', 'no labels in the body');
    return c.json(await db.importLabels(records));
  });
  app.route('/api/admin', admin);

  return app;
}

function publicLabeler(l: LabelerRow) {
  return { id: l.id, name: l.name, kind: l.kind, isAdmin: l.isAdmin };
}
function publicLabel(l: { imageId: number; value: LabelValue; createdAt: string }) {
  return { imageId: l.imageId, value: l.value, createdAt: l.createdAt };
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port (port 0 picks a free one). */
export function startServer(opts: AppOptions & { port?: number; host?: string }): Promise<RunningServer> {
  const app = createApp(opts);
  const host = opts.host ?? '127.0.0.1';
  return new Promise((resolvePromise, reject) => {
    const server = serve({ fetch: app.fetch, port: opts.port ?? 8080, hostname: host }, (info) => {
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolvePromise({
        url: `http://${shownHost}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            // stop accepting, let requests in flight finish (their labels are acknowledged), drop
            // idle keep-alive connections, and cut whatever is still open after 5 s
            const s = server as Server;
            const force = setTimeout(() => s.closeAllConnections(), 5000);
            s.close(() => {
              clearTimeout(force);
              done();
            });
            s.closeIdleConnections();
          }),
      });
    }) as Server;
    server.once('error', reject);
  });
}
