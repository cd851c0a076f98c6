/**
 * The feedback database: a typed async repository over SQLite (a run's feedback.db, the default)
 * or PostgreSQL, shared by the pipeline stages (feedback build / simulate, reward training,
 * evaluation) and the labeling server.
 *
 *   const db = await openFeedbackDb('sqlite:runs/x/feedback.db');   // or postgres://...
 *   const [pid] = await db.insertPrompts([{ text: 'Two dogs.', category: 'count', split: 'feedback' }]);
 *   await db.insertImages([{ promptId: pid, path: 'images/0.png', model: 'original', purpose: 'feedback' }]);
 *   ...
 *   await db.close();
 *
 * Every write runs in one transaction and is committed before its promise resolves.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { FeedbackError } from './errors.js';
import { type AgreementResult, agreement } from './kappa.js';
import { migrate, SCHEMA_VERSION, schemaVersion } from './migrations.js';
import { type Driver, openDriver, type Param, type Queryable } from './sql.js';
import {
  type BulkLabel,
  type BulkLabelResult,
  CATEGORIES,
  type Category,
  type CategoryProgress,
  CHOICES,
  type Choice,
  type ComparisonRow,
  type ImageFilter,
  type ImageInfo,
  type ImportResult,
  LABEL_VALUES,
  LABELER_KINDS,
  type LabelerKind,
  type LabelerProgress,
  type LabelerRow,
  type LabelerStats,
  type LabelFilter,
  type LabelImport,
  type LabelInfo,
  type LabelRecord,
  type LabelRow,
  type LabelValue,
  type NewComparison,
  type NewImage,
  type NewPrompt,
  type PanelOptions,
  type PanelResult,
  type ProgressReport,
  type PromptRow,
  type QueryVotes,
  type QuestionResult,
  type QueueOptions,
  type RecordLabelResult,
  type RecordVoteResult,
  type RewardRow,
  SPLITS,
  type Split,
  type Table2Row,
  type VoteInput,
} from './types.js';

/** Paper: "Labeling for training is done by two human labelers." */
export const DEFAULT_LABELS_PER_IMAGE = 2;
/** Paper Figures 4 and 6: "Each query is evaluated by 9 independent human raters." */
export const DEFAULT_RATERS_PER_QUERY = 9;
/** Paper: a two-thirds vote, 7 or more of 9. */
export const DEFAULT_WIN_THRESHOLD = 7;
export const DEFAULT_LEASE_MS = 10 * 60 * 1000;
const CHUNK = 400;

// ---------------------------------------------------------------------------------------------
// validation (the library validates too, not only the HTTP layer: the pipeline calls it directly)

function invalid(message: string): never {
  throw new FeedbackError('invalid', message);
}
function checkInt(name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    invalid(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}
function checkOneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    invalid(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}
function checkWord(name: string, v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(v)) {
    invalid(`${name} must be 1-64 letters, digits, _ . or - , got ${JSON.stringify(v)}`);
  }
  return v;
}
function checkPurpose(v: unknown): string {
  if (typeof v !== 'string' || !/^[a-z][a-z0-9_]{0,31}$/.test(v)) {
    invalid(
      `purpose must be a lower-case word such as feedback, unlabeled or eval, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}
/** A labeler's name: what they type to sign in. */
export function checkLabelerName(v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,63}$/.test(v) || v.endsWith(' ')) {
    invalid(`labeler name must be 1-64 letters, digits, spaces, _ . @ or -, got ${JSON.stringify(v)}`);
  }
  return v;
}
/**
 * An image path must stay inside the run folder: relative, forward slashes, no "." or ".."
 * segment, no drive letter or control character. (The server checks the resolved path again.)
 */
export function checkImagePath(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 512)
    invalid('image path must be 1-512 characters');
  const p = v as string;
  const segments = p.split('/');
  if (
    p.startsWith('/') ||
    p.includes('\\') ||
    p.includes(':') ||
    [...p].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) ||
    segments.some((s) => s === '' || s === '.' || s === '..')
  ) {
    invalid(
      `image path must be relative to the run folder without "." or ".." parts, got ${JSON.stringify(p)}`,
    );
  }
  return p;
}
function checkTimestamp(name: string, v: unknown): string {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) invalid(`${name} must be an ISO-8601 timestamp`);
  return new Date(v as string).toISOString();
}
function toJson(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}
function fromJson<T>(v: string | null): T | null {
  return v === null ? null : (JSON.parse(v) as T);
}
function placeholders(n: number, width = 1): string {
  const one = width === 1 ? '?' : `(${new Array(width).fill('?').join(', ')})`;
  return new Array(n).fill(one).join(', ');
}
function chunks<T>(xs: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}
function now(): string {
  return new Date().toISOString();
}
function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
/** Small seeded generator (mulberry32) for the left/right draw of comparisons. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// rows as stored

interface ImageDbRow {
  id: number;
  prompt_id: number;
  path: string;
  model: string;
  seed: number | null;
  sampler: string | null;
  purpose: string;
  n_labels: number;
  created_at: string;
  prompt: string;
  category: Category;
  split: Split;
}
const IMAGE_SELECT = `SELECT i.id, i.prompt_id, i.path, i.model, i.seed, i.sampler, i.purpose, i.n_labels,
  i.created_at, p.text AS prompt, p.category, p.split FROM images i JOIN prompts p ON p.id = i.prompt_id`;
function imageInfo(r: ImageDbRow): ImageInfo {
  return {
    id: r.id,
    promptId: r.prompt_id,
    path: r.path,
    model: r.model,
    seed: r.seed,
    sampler: fromJson<Record<string, unknown>>(r.sampler),
    purpose: r.purpose,
    nLabels: r.n_labels,
    createdAt: r.created_at,
    prompt: r.prompt,
    category: r.category,
    split: r.split,
  };
}

interface LabelerDbRow {
  id: number;
  name: string;
  kind: LabelerKind;
  is_admin: number;
  token_hash: string | null;
  created_at: string;
}
const LABELER_SELECT = 'SELECT id, name, kind, is_admin, token_hash, created_at FROM labelers';
function labelerRow(r: LabelerDbRow): LabelerRow {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    isAdmin: r.is_admin === 1,
    canSignIn: r.token_hash !== null,
    createdAt: r.created_at,
  };
}

interface LabelDbRow {
  id: number;
  image_id: number;
  labeler_id: number;
  value: LabelValue;
  created_at: string;
}
function labelRow(r: LabelDbRow): LabelRow {
  return { id: r.id, imageId: r.image_id, labelerId: r.labeler_id, value: r.value, createdAt: r.created_at };
}

interface ComparisonDbRow {
  id: number;
  panel: string;
  prompt_id: number;
  prompt: string;
  category: Category;
  split: Split;
  model_a: string;
  model_b: string;
  set_a: string;
  set_b: string;
  a_on_left: number;
  n_raters: number;
  created_at: string;
}
const COMPARISON_SELECT = `SELECT c.id, c.panel, c.prompt_id, p.text AS prompt, p.category, p.split, c.model_a,
  c.model_b, c.set_a, c.set_b, c.a_on_left, c.n_raters, c.created_at FROM comparisons c JOIN prompts p ON p.id = c.prompt_id`;
function comparisonRow(r: ComparisonDbRow): ComparisonRow {
  return {
    id: r.id,
    panel: r.panel,
    promptId: r.prompt_id,
    prompt: r.prompt,
    category: r.category,
    split: r.split,
    modelA: r.model_a,
    modelB: r.model_b,
    setA: JSON.parse(r.set_a) as number[],
    setB: JSON.parse(r.set_b) as number[],
    aOnLeft: r.a_on_left === 1,
    nRaters: r.n_raters,
    createdAt: r.created_at,
  };
}

const TOKEN_RE = /^t2i_(\d{1,10})_([A-Za-z0-9_-]{32})$/;

function queueOptions(o: QueueOptions = {}) {
  return {
    k: checkInt('labelsPerImage', o.labelsPerImage ?? DEFAULT_LABELS_PER_IMAGE),
    purpose: checkPurpose(o.purpose ?? 'feedback'),
    leaseMs: checkInt('leaseMs', o.leaseMs ?? DEFAULT_LEASE_MS),
  };
}

/** Opens (creating if needed) and migrates a feedback database. */
export async function openFeedbackDb(url: string): Promise<FeedbackDb> {
  const driver = await openDriver(url);
  try {
    await migrate(driver);
  } catch (e) {
    await driver.close();
    throw e;
  }
  return new FeedbackDb(driver);
}

export class FeedbackDb {
  private readonly d: Driver;

  constructor(driver: Driver) {
    this.d = driver;
  }

  get engine(): 'sqlite' | 'postgres' {
    return this.d.dialect;
  }
  /** Where the data lives (passwords hidden). */
  get describe(): string {
    return this.d.describe;
  }
  schemaVersion(): Promise<number> {
    return schemaVersion(this.d);
  }
  get latestSchemaVersion(): number {
    return SCHEMA_VERSION;
  }
  close(): Promise<void> {
    return this.d.close();
  }

  // -------------------------------------------------------------------------------------------
  // prompts and images

  /**
   * Inserts prompts, or finds them when (text, split) already exists; returns their ids in input
   * order. A stored prompt with another category is refused (a conflict, not a silent update).
   */
  async insertPrompts(prompts: readonly NewPrompt[]): Promise<number[]> {
    for (const [i, p] of prompts.entries()) {
      if (typeof p.text !== 'string' || p.text.trim() === '' || p.text.length > 1000) {
        invalid(`prompt ${i}: text must be 1-1000 characters`);
      }
      checkOneOf(`prompt ${i}: category`, p.category, CATEGORIES);
      checkOneOf(`prompt ${i}: split`, p.split, SPLITS);
    }
    const created = now();
    return this.d.tx(async (q) => {
      const ids: number[] = [];
      for (const p of prompts) {
        const row = await q.get<{ id: number; category: string }>(
          `INSERT INTO prompts (text, category, split, structured, created_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (text, split) DO UPDATE SET text = excluded.text RETURNING id, category`,
          [p.text, p.category, p.split, toJson(p.structured), created],
        );
        if (row!.category !== p.category) {
          throw new FeedbackError(
            'conflict',
            `prompt "${p.text}" (${p.split}) is stored with category ${row!.category}, not ${p.category}`,
          );
        }
        ids.push(row!.id);
      }
      return ids;
    });
  }

  async listPrompts(filter: { split?: Split; category?: Category } = {}): Promise<PromptRow[]> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.split !== undefined) {
      where.push('split = ?');
      params.push(checkOneOf('split', filter.split, SPLITS));
    }
    if (filter.category !== undefined) {
      where.push('category = ?');
      params.push(checkOneOf('category', filter.category, CATEGORIES));
    }
    const rows = await this.d.read((q) =>
      q.all<{
        id: number;
        text: string;
        category: Category;
        split: Split;
        structured: string | null;
        created_at: string;
      }>(
        `SELECT id, text, category, split, structured, created_at FROM prompts${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`,
        params,
      ),
    );
    return rows.map((r) => ({
      id: r.id,
      text: r.text,
      category: r.category,
      split: r.split,
      structured: fromJson(r.structured),
      createdAt: r.created_at,
    }));
  }

  /**
   * Inserts images in one transaction (batched), or finds them when the path already exists;
   * returns ids in input order. An existing path with another prompt or model is a conflict.
   */
  async insertImages(images: readonly NewImage[]): Promise<number[]> {
    for (const [i, im] of images.entries()) {
      checkInt(`image ${i}: promptId`, im.promptId);
      checkImagePath(im.path);
      checkWord(`image ${i}: model`, im.model);
      checkPurpose(im.purpose);
      if (im.seed !== undefined && im.seed !== null)
        checkInt(`image ${i}: seed`, im.seed, Number.MIN_SAFE_INTEGER);
    }
    const seen = new Set<string>();
    for (const im of images) {
      if (seen.has(im.path)) invalid(`image path ${im.path} appears twice in one insertImages call`);
      seen.add(im.path);
    }
    const created = now();
    return this.d.tx(async (q) => {
      const byPath = new Map<string, number>();
      for (const part of chunks(images)) {
        const promptIds = [...new Set(part.map((im) => im.promptId))];
        const found = await q.all<{ id: number }>(
          `SELECT id FROM prompts WHERE id IN (${placeholders(promptIds.length)})`,
          promptIds,
        );
        if (found.length !== promptIds.length) {
          const have = new Set(found.map((r) => r.id));
          throw new FeedbackError(
            'not_found',
            `prompt ${promptIds.find((id) => !have.has(id))} does not exist`,
          );
        }
        const params: Param[] = [];
        for (const im of part) {
          params.push(
            im.promptId,
            im.path,
            im.model,
            im.seed ?? null,
            toJson(im.sampler),
            im.purpose,
            created,
          );
        }
        const rows = await q.all<{ id: number; path: string; prompt_id: number; model: string }>(
          `INSERT INTO images (prompt_id, path, model, seed, sampler, purpose, created_at) VALUES ${placeholders(part.length, 7)}
           ON CONFLICT (path) DO UPDATE SET path = excluded.path RETURNING id, path, prompt_id, model`,
          params,
        );
        const want = new Map(part.map((im) => [im.path, im]));
        for (const r of rows) {
          const im = want.get(r.path)!;
          if (r.prompt_id !== im.promptId || r.model !== im.model) {
            throw new FeedbackError(
              'conflict',
              `image ${r.path} is stored for prompt ${r.prompt_id} / model ${r.model}, not prompt ${im.promptId} / model ${im.model}`,
            );
          }
          byPath.set(r.path, r.id);
        }
      }
      return images.map((im) => byPath.get(im.path)!);
    });
  }

  async getImage(id: number): Promise<ImageInfo | null> {
    checkInt('image id', id);
    const r = await this.d.read((q) => q.get<ImageDbRow>(`${IMAGE_SELECT} WHERE i.id = ?`, [id]));
    return r ? imageInfo(r) : null;
  }

  async listImages(filter: ImageFilter = {}): Promise<ImageInfo[]> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.purpose !== undefined) {
      where.push('i.purpose = ?');
      params.push(checkPurpose(filter.purpose));
    }
    if (filter.promptId !== undefined) {
      where.push('i.prompt_id = ?');
      params.push(checkInt('promptId', filter.promptId));
    }
    if (filter.model !== undefined) {
      where.push('i.model = ?');
      params.push(checkWord('model', filter.model));
    }
    if (filter.split !== undefined) {
      where.push('p.split = ?');
      params.push(checkOneOf('split', filter.split, SPLITS));
    }
    if (filter.category !== undefined) {
      where.push('p.category = ?');
      params.push(checkOneOf('category', filter.category, CATEGORIES));
    }
    if (filter.ids !== undefined) {
      for (const id of filter.ids) checkInt('image id', id);
      const out: ImageInfo[] = [];
      for (const part of chunks(filter.ids)) {
        const w = [...where, `i.id IN (${placeholders(part.length)})`];
        const rows = await this.d.read((q) =>
          q.all<ImageDbRow>(`${IMAGE_SELECT} WHERE ${w.join(' AND ')} ORDER BY i.id`, [...params, ...part]),
        );
        out.push(...rows.map(imageInfo));
      }
      return out;
    }
    let sql = `${IMAGE_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY i.id`;
    if (filter.limit !== undefined) {
      sql += ' LIMIT ? OFFSET ?';
      params.push(checkInt('limit', filter.limit, 0), checkInt('offset', filter.offset ?? 0, 0));
    }
    const rows = await this.d.read((q) => q.all<ImageDbRow>(sql, params));
    return rows.map(imageInfo);
  }

  // -------------------------------------------------------------------------------------------
  // labelers and tokens

  /**
   * Adds a labeler and issues an access token, returned once: only its SHA-256 is stored.
   * A name that exists already is a conflict.
   */
  async addLabeler(opts: {
    name: string;
    kind?: LabelerKind;
    isAdmin?: boolean;
  }): Promise<{ labeler: LabelerRow; token: string }> {
    const name = checkLabelerName(opts.name);
    const kind = checkOneOf('kind', opts.kind ?? 'human', LABELER_KINDS);
    return this.d.tx(
      async (q) => {
        if (await q.get('SELECT id FROM labelers WHERE name = ?', [name])) {
          throw new FeedbackError('conflict', `labeler "${name}" exists already`);
        }
        const row = await q.get<LabelerDbRow>(
          `INSERT INTO labelers (name, kind, is_admin, token_hash, created_at) VALUES (?, ?, ?, NULL, ?)
           RETURNING id, name, kind, is_admin, token_hash, created_at`,
          [name, kind, opts.isAdmin ? 1 : 0, now()],
        );
        const token = newToken(row!.id);
        await q.run('UPDATE labelers SET token_hash = ? WHERE id = ?', [sha256(token), row!.id]);
        return { labeler: { ...labelerRow(row!), canSignIn: true }, token };
      },
      { exclusive: true },
    );
  }

  /** Finds a labeler by name or creates it without a token (simulated labelers, imports). */
  async ensureLabeler(opts: { name: string; kind?: LabelerKind }): Promise<LabelerRow> {
    const name = checkLabelerName(opts.name);
    const kind = checkOneOf('kind', opts.kind ?? 'human', LABELER_KINDS);
    return this.d.tx(async (q) => labelerRow(await ensureLabelerIn(q, name, kind)), { exclusive: true });
  }

  /** Issues a new token for an existing labeler (the old one stops working). */
  async resetToken(name: string): Promise<{ labeler: LabelerRow; token: string }> {
    checkLabelerName(name);
    return this.d.tx(async (q) => {
      const row = await q.get<LabelerDbRow>(`${LABELER_SELECT} WHERE name = ?`, [name]);
      if (!row) throw new FeedbackError('not_found', `no labeler named "${name}"`);
      const token = newToken(row.id);
      await q.run('UPDATE labelers SET token_hash = ? WHERE id = ?', [sha256(token), row.id]);
      return { labeler: { ...labelerRow(row), canSignIn: true }, token };
    });
  }

  async listLabelers(): Promise<LabelerRow[]> {
    const rows = await this.d.read((q) => q.all<LabelerDbRow>(`${LABELER_SELECT} ORDER BY id`));
    return rows.map(labelerRow);
  }

  async getLabeler(id: number): Promise<LabelerRow | null> {
    const r = await this.d.read((q) => q.get<LabelerDbRow>(`${LABELER_SELECT} WHERE id = ?`, [id]));
    return r ? labelerRow(r) : null;
  }

  async hasAdmin(): Promise<boolean> {
    const r = await this.d.read((q) =>
      q.get('SELECT id FROM labelers WHERE is_admin = 1 AND token_hash IS NOT NULL LIMIT 1'),
    );
    return r !== undefined;
  }

  /**
   * The labeler a token belongs to, or null. The token names its labeler's id; the stored hash is
   * compared in constant time.
   */
  async authenticate(token: string): Promise<LabelerRow | null> {
    if (typeof token !== 'string') return null;
    const m = TOKEN_RE.exec(token);
    if (!m) return null;
    const row = await this.d.read((q) =>
      q.get<LabelerDbRow>(`${LABELER_SELECT} WHERE id = ?`, [Number(m[1])]),
    );
    if (!row || row.token_hash === null) return null;
    const a = Buffer.from(sha256(token), 'hex');
    const b = Buffer.from(row.token_hash, 'hex');
    return a.length === b.length && timingSafeEqual(a, b) ? labelerRow(row) : null;
  }

  /** Sign-in: the token must be valid and belong to the labeler of that name. */
  async signIn(name: string, token: string): Promise<LabelerRow | null> {
    const l = await this.authenticate(token);
    return l !== null && l.name === name ? l : null;
  }

  // -------------------------------------------------------------------------------------------
  // the labeling queue (paper protocol: each image labeled by k distinct labelers)

  /**
   * The image a labeler should label next, reserved for them (a lease) so that concurrent
   * labelers fill its k slots at most: an image is served only while its labels plus other
   * labelers' live leases are fewer than k, and never to someone who labeled it. Images that
   * already hold labels come first (finishing them gives the agreement statistics pairs). The
   * same image comes back until it is answered or the lease expires. Null when nothing is left.
   *
   * Concurrency: every change to an image's slots (lease, label, undo) happens while holding
   * that image's row lock, and the slot count is read again after taking it. PostgreSQL runs
   * these transactions in parallel on different images (SKIP LOCKED passes over images another
   * labeler is being given right now); SQLite runs them one at a time.
   */
  async nextImage(labelerId: number, opts: QueueOptions = {}): Promise<ImageInfo | null> {
    checkInt('labelerId', labelerId);
    const { k, purpose, leaseMs } = queueOptions(opts);
    const lock = this.d.lock;
    const id = await this.d.tx(async (q) => {
      const t = Date.now();
      const held = await q.get<{ image_id: number }>(
        `SELECT a.image_id FROM image_leases a JOIN images i ON i.id = a.image_id
         WHERE a.labeler_id = ? AND a.expires_at > ? AND i.purpose = ?
           AND NOT EXISTS (SELECT 1 FROM labels x WHERE x.image_id = a.image_id AND x.labeler_id = a.labeler_id)`,
        [labelerId, t, purpose],
      );
      if (held) {
        await q.get(`SELECT id FROM images WHERE id = ?${lock.forUpdate}`, [held.image_id]);
        // still live once the image is locked? then extend it; otherwise pick afresh
        const extended = await q.run(
          'UPDATE image_leases SET expires_at = ? WHERE labeler_id = ? AND image_id = ? AND expires_at > ?',
          [t + leaseMs, labelerId, held.image_id, Date.now()],
        );
        if (extended > 0) return held.image_id;
      }
      for (let n = k - 1; n >= 0; n--) {
        for (let attempt = 0; attempt < 20; attempt++) {
          const row = await q.get<{ id: number }>(
            `SELECT i.id FROM images i
             WHERE i.purpose = ? AND i.n_labels = ?
               AND NOT EXISTS (SELECT 1 FROM labels x WHERE x.image_id = i.id AND x.labeler_id = ?)
               AND i.n_labels + (SELECT COUNT(*) FROM image_leases a
                                 WHERE a.image_id = i.id AND a.labeler_id <> ? AND a.expires_at > ?) < ?
             ORDER BY i.id LIMIT 1${lock.skipLocked}`,
            [purpose, n, labelerId, labelerId, t, k],
          );
          if (!row) break;
          if (await this.imageHasSlot(q, row.id, labelerId, k)) {
            await q.run(
              `INSERT INTO image_leases (labeler_id, image_id, expires_at) VALUES (?, ?, ?)
               ON CONFLICT (labeler_id) DO UPDATE SET image_id = excluded.image_id, expires_at = excluded.expires_at`,
              [labelerId, row.id, t + leaseMs],
            );
            return row.id;
          }
        }
      }
      await q.run('DELETE FROM image_leases WHERE labeler_id = ?', [labelerId]);
      return null;
    });
    return id === null ? null : this.getImage(id);
  }

  /** With the image's row lock held: may this labeler take one of its k slots? (A fresh read.) */
  private async imageHasSlot(q: Queryable, imageId: number, labelerId: number, k: number): Promise<boolean> {
    const r = await q.get<{ taken: number; mine: number }>(
      `SELECT i.n_labels + (SELECT COUNT(*) FROM image_leases a
                            WHERE a.image_id = i.id AND a.labeler_id <> ? AND a.expires_at > ?) AS taken,
         (SELECT COUNT(*) FROM labels x WHERE x.image_id = i.id AND x.labeler_id = ?) AS mine
       FROM images i WHERE i.id = ?`,
      [labelerId, Date.now(), labelerId, imageId],
    );
    return r !== undefined && r.mine === 0 && r.taken < k;
  }

  /**
   * Commits one label. Refused when the image does not exist (not_found), when this labeler
   * already gave it another answer (conflict: undo first), or when k other labelers have labeled
   * or hold it (full). Sending the same answer again is an idempotent 'unchanged'.
   */
  async recordLabel(
    input: { imageId: number; labelerId: number; value: LabelValue },
    opts: QueueOptions = {},
  ): Promise<RecordLabelResult> {
    const imageId = checkInt('imageId', input.imageId);
    const labelerId = checkInt('labelerId', input.labelerId);
    const value = checkOneOf('value', input.value, LABEL_VALUES);
    const { k } = queueOptions(opts);
    const lock = this.d.lock;
    return this.d.tx(async (q) => {
      const image = await q.get<{ id: number }>(`SELECT id FROM images WHERE id = ?${lock.forUpdate}`, [
        imageId,
      ]);
      if (!image) throw new FeedbackError('not_found', `image ${imageId} does not exist`);
      const mine = await q.get<LabelDbRow>(
        'SELECT id, image_id, labeler_id, value, created_at FROM labels WHERE image_id = ? AND labeler_id = ?',
        [imageId, labelerId],
      );
      if (mine) {
        if (mine.value === value) return { status: 'unchanged' as const, label: labelRow(mine) };
        throw new FeedbackError(
          'conflict',
          `image ${imageId} is already labeled "${mine.value}" by this labeler; undo it first`,
        );
      }
      if (!(await this.imageHasSlot(q, imageId, labelerId, k))) {
        throw new FeedbackError('full', `image ${imageId} already has its ${k} labelers`);
      }
      const row = await q.get<LabelDbRow>(
        `INSERT INTO labels (image_id, labeler_id, value, created_at) VALUES (?, ?, ?, ?)
         RETURNING id, image_id, labeler_id, value, created_at`,
        [imageId, labelerId, value, now()],
      );
      await q.run('UPDATE images SET n_labels = n_labels + 1 WHERE id = ?', [imageId]);
      await q.run('DELETE FROM image_leases WHERE labeler_id = ? AND image_id = ?', [labelerId, imageId]);
      return { status: 'created' as const, label: labelRow(row!) };
    });
  }

  /**
   * Removes the labeler's most recent label and reserves that image for them again, so the queue
   * serves it next. Called again, it walks further back. Null when they have no label.
   */
  async undoLastLabel(labelerId: number, opts: QueueOptions = {}): Promise<LabelRow | null> {
    checkInt('labelerId', labelerId);
    const { leaseMs } = queueOptions(opts);
    const lock = this.d.lock;
    return this.d.tx(async (q) => {
      const last = await q.get<LabelDbRow>(
        'SELECT id, image_id, labeler_id, value, created_at FROM labels WHERE labeler_id = ? ORDER BY id DESC LIMIT 1',
        [labelerId],
      );
      if (!last) return null;
      await q.get(`SELECT id FROM images WHERE id = ?${lock.forUpdate}`, [last.image_id]);
      // a concurrent undo of the same labeler may have removed it meanwhile
      if ((await q.run('DELETE FROM labels WHERE id = ?', [last.id])) === 0) return null;
      await q.run('UPDATE images SET n_labels = n_labels - 1 WHERE id = ?', [last.image_id]);
      await q.run(
        `INSERT INTO image_leases (labeler_id, image_id, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (labeler_id) DO UPDATE SET image_id = excluded.image_id, expires_at = excluded.expires_at`,
        [labelerId, last.image_id, Date.now() + leaseMs],
      );
      return labelRow(last);
    });
  }

  /**
   * Bulk labels without the queue (simulated labelers, a judge): one transaction; existing
   * (image, labeler) pairs are left as they are and counted.
   */
  async recordLabels(labels: readonly BulkLabel[]): Promise<BulkLabelResult> {
    const rows = labels.map((l, i) => ({
      imageId: checkInt(`label ${i}: imageId`, l.imageId),
      labelerId: checkInt(`label ${i}: labelerId`, l.labelerId),
      value: checkOneOf(`label ${i}: value`, l.value, LABEL_VALUES),
      createdAt: l.createdAt === undefined ? now() : checkTimestamp(`label ${i}: createdAt`, l.createdAt),
    }));
    return this.d.tx(
      async (q) => {
        await assertExist(q, 'images', 'image', [...new Set(rows.map((r) => r.imageId))]);
        await assertExist(q, 'labelers', 'labeler', [...new Set(rows.map((r) => r.labelerId))]);
        return insertLabelsBulk(q, rows, this.d.lock);
      },
      { exclusive: true },
    );
  }

  async labelsForLabeler(labelerId: number, opts: { limit?: number } = {}): Promise<LabelRow[]> {
    checkInt('labelerId', labelerId);
    const limit = checkInt('limit', opts.limit ?? 1_000_000, 1);
    const rows = await this.d.read((q) =>
      q.all<LabelDbRow>(
        'SELECT id, image_id, labeler_id, value, created_at FROM labels WHERE labeler_id = ? ORDER BY id DESC LIMIT ?',
        [labelerId, limit],
      ),
    );
    return rows.map(labelRow);
  }

  async labelsForImages(imageIds: readonly number[]): Promise<LabelRow[]> {
    const out: LabelRow[] = [];
    for (const id of imageIds) checkInt('image id', id);
    for (const part of chunks(imageIds)) {
      const rows = await this.d.read((q) =>
        q.all<LabelDbRow>(
          `SELECT id, image_id, labeler_id, value, created_at FROM labels WHERE image_id IN (${placeholders(part.length)}) ORDER BY id`,
          part,
        ),
      );
      out.push(...rows.map(labelRow));
    }
    return out;
  }

  /** Labels joined with image, prompt and labeler: the training set of the reward model. */
  async listLabels(filter: LabelFilter = {}): Promise<LabelInfo[]> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.purpose !== undefined) {
      where.push('i.purpose = ?');
      params.push(checkPurpose(filter.purpose));
    }
    if (filter.labelerId !== undefined) {
      where.push('l.labeler_id = ?');
      params.push(checkInt('labelerId', filter.labelerId));
    }
    if (filter.labelerKind !== undefined) {
      where.push('w.kind = ?');
      params.push(checkOneOf('labelerKind', filter.labelerKind, LABELER_KINDS));
    }
    if (filter.category !== undefined) {
      where.push('p.category = ?');
      params.push(checkOneOf('category', filter.category, CATEGORIES));
    }
    const rows = await this.d.read((q) =>
      q.all<
        LabelDbRow & {
          image_path: string;
          prompt_id: number;
          prompt: string;
          category: Category;
          split: Split;
          model: string;
          purpose: string;
          labeler: string;
          labeler_kind: LabelerKind;
        }
      >(
        `SELECT l.id, l.image_id, l.labeler_id, l.value, l.created_at, i.path AS image_path, i.prompt_id,
           p.text AS prompt, p.category, p.split, i.model, i.purpose, w.name AS labeler, w.kind AS labeler_kind
         FROM labels l JOIN images i ON i.id = l.image_id JOIN prompts p ON p.id = i.prompt_id
           JOIN labelers w ON w.id = l.labeler_id
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY l.id`,
        params,
      ),
    );
    return rows.map((r) => ({
      ...labelRow(r),
      imagePath: r.image_path,
      promptId: r.prompt_id,
      prompt: r.prompt,
      category: r.category,
      split: r.split,
      model: r.model,
      purpose: r.purpose,
      labeler: r.labeler,
      labelerKind: r.labeler_kind,
    }));
  }

  // -------------------------------------------------------------------------------------------
  // progress and the paper's summaries

  async labelerProgress(labelerId: number, opts: QueueOptions = {}): Promise<LabelerProgress> {
    const totals = await this.queueTotals(opts);
    return { labeled: await this.labeledBy(labelerId, opts), ...totals };
  }

  /** Labels this labeler holds on the queue's images (an index range: cheap per request). */
  async labeledBy(labelerId: number, opts: QueueOptions = {}): Promise<number> {
    const { purpose } = queueOptions(opts);
    const r = await this.d.read((q) =>
      q.get<{ n: number }>(
        // driven from the labeler's index range (a JOIN lets SQLite walk every image of the purpose)
        `SELECT COUNT(*) AS n FROM labels l WHERE l.labeler_id = ?
           AND EXISTS (SELECT 1 FROM images i WHERE i.id = l.image_id AND i.purpose = ?)`,
        [labelerId, purpose],
      ),
    );
    return r!.n;
  }

  /**
   * Images of the queue and how many hold all their labels. This reads every image of the queue,
   * so a server asking for it on each request should cache it for a moment.
   */
  async queueTotals(
    opts: QueueOptions = {},
  ): Promise<{ complete: number; total: number; labelsPerImage: number }> {
    const { k, purpose } = queueOptions(opts);
    const all = await this.d.read((q) =>
      q.get<{ total: number; complete: number | null }>(
        'SELECT COUNT(*) AS total, SUM(CASE WHEN n_labels >= ? THEN 1 ELSE 0 END) AS complete FROM images WHERE purpose = ?',
        [k, purpose],
      ),
    );
    return { complete: all!.complete ?? 0, total: all!.total, labelsPerImage: k };
  }

  /** How many images this labeler could still be served (ignoring other labelers' leases). */
  async availableFor(labelerId: number, opts: QueueOptions = {}): Promise<number> {
    const { k, purpose } = queueOptions(opts);
    const r = await this.d.read((q) =>
      q.get<{ n: number }>(
        `SELECT COUNT(*) AS n FROM images i WHERE i.purpose = ? AND i.n_labels < ?
           AND NOT EXISTS (SELECT 1 FROM labels x WHERE x.image_id = i.id AND x.labeler_id = ?)`,
        [purpose, k, labelerId],
      ),
    );
    return r!.n;
  }

  /** Admin progress: per category (images, complete, labels) and per labeler (answers given). */
  async progress(opts: QueueOptions = {}): Promise<ProgressReport> {
    const { k, purpose } = queueOptions(opts);
    return this.d.read(async (q) => {
      const cats = await q.all<{
        category: Category;
        images: number;
        complete: number | null;
        labels: number | null;
      }>(
        `SELECT p.category, COUNT(*) AS images, SUM(CASE WHEN i.n_labels >= ? THEN 1 ELSE 0 END) AS complete,
           SUM(i.n_labels) AS labels
         FROM images i JOIN prompts p ON p.id = i.prompt_id WHERE i.purpose = ? GROUP BY p.category`,
        [k, purpose],
      );
      const byCategory: CategoryProgress[] = CATEGORIES.map((category) => {
        const r = cats.find((c) => c.category === category);
        const images = r?.images ?? 0;
        const labels = r?.labels ?? 0;
        return {
          category,
          images,
          complete: r?.complete ?? 0,
          labels,
          fraction: images ? labels / (images * k) : 0,
        };
      });
      const tImages = byCategory.reduce((s, c) => s + c.images, 0);
      const tLabels = byCategory.reduce((s, c) => s + c.labels, 0);
      const total = {
        images: tImages,
        complete: byCategory.reduce((s, c) => s + c.complete, 0),
        labels: tLabels,
        fraction: tImages ? tLabels / (tImages * k) : 0,
      };
      const people = await q.all<{
        id: number;
        name: string;
        kind: LabelerKind;
        labels: number;
        good: number | null;
        bad: number | null;
        skip: number | null;
        last: string | null;
      }>(
        `SELECT w.id, w.name, w.kind, COUNT(x.id) AS labels,
           SUM(CASE WHEN x.value = 'good' THEN 1 ELSE 0 END) AS good,
           SUM(CASE WHEN x.value = 'bad' THEN 1 ELSE 0 END) AS bad,
           SUM(CASE WHEN x.value = 'skip' THEN 1 ELSE 0 END) AS skip,
           MAX(x.created_at) AS last
         FROM labelers w LEFT JOIN (
           SELECT l.id, l.labeler_id, l.value, l.created_at FROM labels l JOIN images i ON i.id = l.image_id
           WHERE i.purpose = ?) x ON x.labeler_id = w.id
         GROUP BY w.id, w.name, w.kind ORDER BY w.id`,
        [purpose],
      );
      const byLabeler: LabelerStats[] = people.map((r) => ({
        id: r.id,
        name: r.name,
        kind: r.kind,
        labels: r.labels,
        good: r.good ?? 0,
        bad: r.bad ?? 0,
        skip: r.skip ?? 0,
        lastLabelAt: r.last,
      }));
      return { labelsPerImage: k, byCategory, total, byLabeler };
    });
  }

  /** The paper's Table 2: images per category and the good / bad / skip shares of their labels. */
  async table2Summary(opts: { purpose?: string } = {}): Promise<Table2Row[]> {
    const purpose = checkPurpose(opts.purpose ?? 'feedback');
    return this.d.read(async (q) => {
      const images = await q.all<{ category: Category; n: number }>(
        `SELECT p.category, COUNT(*) AS n FROM images i JOIN prompts p ON p.id = i.prompt_id
         WHERE i.purpose = ? GROUP BY p.category`,
        [purpose],
      );
      const labels = await q.all<{ category: Category; value: LabelValue; n: number }>(
        `SELECT p.category, l.value, COUNT(*) AS n FROM labels l JOIN images i ON i.id = l.image_id
           JOIN prompts p ON p.id = i.prompt_id
         WHERE i.purpose = ? GROUP BY p.category, l.value`,
        [purpose],
      );
      const row = (category: Category | 'total', cats: readonly Category[]): Table2Row => {
        const count = (v: LabelValue) =>
          labels.filter((l) => cats.includes(l.category) && l.value === v).reduce((s, l) => s + l.n, 0);
        const good = count('good');
        const bad = count('bad');
        const skip = count('skip');
        const n = good + bad + skip;
        const pct = (x: number) => (n ? (100 * x) / n : 0);
        return {
          category,
          images: images.filter((r) => cats.includes(r.category)).reduce((s, r) => s + r.n, 0),
          labels: n,
          good,
          bad,
          skip,
          goodPct: pct(good),
          badPct: pct(bad),
          skipPct: pct(skip),
        };
      };
      return [...CATEGORIES.map((c) => row(c, [c])), row('total', CATEGORIES)];
    });
  }

  /**
   * Inter-labeler agreement on good/bad/skip: Cohen's kappa when exactly two labelers labeled the
   * images (the paper's setting), Fleiss' kappa over images with labelsPerImage labels otherwise;
   * per category and per pair of labelers too.
   */
  async agreement(opts: QueueOptions = {}): Promise<AgreementResult> {
    const { k, purpose } = queueOptions(opts);
    const rows = await this.d.read((q) =>
      q.all<{ image_id: number; labeler_id: number; value: LabelValue; category: Category }>(
        `SELECT l.image_id, l.labeler_id, l.value, p.category FROM labels l JOIN images i ON i.id = l.image_id
           JOIN prompts p ON p.id = i.prompt_id WHERE i.purpose = ? ORDER BY l.image_id, l.id`,
        [purpose],
      ),
    );
    const items = new Map<
      number,
      { itemId: number; group: string; ratings: { raterId: number; value: string }[] }
    >();
    for (const r of rows) {
      let it = items.get(r.image_id);
      if (!it) {
        it = { itemId: r.image_id, group: r.category, ratings: [] };
        items.set(r.image_id, it);
      }
      it.ratings.push({ raterId: r.labeler_id, value: r.value });
    }
    const multi = [...items.values()].filter((it) => it.ratings.length >= 2);
    return agreement(multi, LABEL_VALUES, k);
  }

  // -------------------------------------------------------------------------------------------
  // rewards

  /** Stores reward-model scores (replacing earlier scores of the same reward model). */
  async upsertRewards(
    rewardModel: string,
    rewards: ReadonlyArray<{ imageId: number; value: number }>,
  ): Promise<void> {
    checkWord('rewardModel', rewardModel);
    for (const [i, r] of rewards.entries()) {
      checkInt(`reward ${i}: imageId`, r.imageId);
      if (typeof r.value !== 'number' || !Number.isFinite(r.value))
        invalid(`reward ${i}: value must be a finite number`);
    }
    const created = now();
    await this.d.tx(async (q) => {
      for (const part of chunks(rewards)) {
        const params: Param[] = [];
        for (const r of part) params.push(r.imageId, rewardModel, r.value, created);
        await q.run(
          `INSERT INTO rewards (image_id, reward_model, value, created_at) VALUES ${placeholders(part.length, 4)}
           ON CONFLICT (image_id, reward_model) DO UPDATE SET value = excluded.value, created_at = excluded.created_at`,
          params,
        );
      }
    });
  }

  async rewardsFor(rewardModel: string, filter: { purpose?: string } = {}): Promise<RewardRow[]> {
    checkWord('rewardModel', rewardModel);
    const params: Param[] = [rewardModel];
    let sql =
      'SELECT r.image_id, r.reward_model, r.value FROM rewards r JOIN images i ON i.id = r.image_id WHERE r.reward_model = ?';
    if (filter.purpose !== undefined) {
      sql += ' AND i.purpose = ?';
      params.push(checkPurpose(filter.purpose));
    }
    const rows = await this.d.read((q) =>
      q.all<{ image_id: number; reward_model: string; value: number }>(`${sql} ORDER BY r.image_id`, params),
    );
    return rows.map((r) => ({ imageId: r.image_id, rewardModel: r.reward_model, value: r.value }));
  }

  // -------------------------------------------------------------------------------------------
  // rater panel (paper Figures 4 and 6)

  /**
   * Creates comparison queries: two sets of images of one prompt. Which set is shown on the left
   * is drawn from a generator seeded with `seed` unless given. Returns the ids in input order.
   */
  async createComparisons(specs: readonly NewComparison[], opts: { seed?: number } = {}): Promise<number[]> {
    const rand = mulberry32(opts.seed ?? 0);
    const rows = specs.map((s, i) => {
      checkInt(`comparison ${i}: promptId`, s.promptId);
      checkWord(`comparison ${i}: modelA`, s.modelA);
      checkWord(`comparison ${i}: modelB`, s.modelB);
      for (const set of [s.setA, s.setB]) {
        if (!Array.isArray(set) || set.length === 0 || set.length > 16) {
          invalid(`comparison ${i}: setA and setB must hold 1-16 image ids`);
        }
        for (const id of set) checkInt(`comparison ${i}: image id`, id);
      }
      const panel =
        s.panel === undefined ? `${s.modelA}_vs_${s.modelB}` : checkWord(`comparison ${i}: panel`, s.panel);
      const draw = rand() < 0.5;
      return { ...s, panel, aOnLeft: s.aOnLeft ?? draw };
    });
    const created = now();
    return this.d.tx(async (q) => {
      const ids: number[] = [];
      for (const [i, s] of rows.entries()) {
        const all = [...s.setA, ...s.setB];
        const found = await q.all<{ id: number; prompt_id: number }>(
          `SELECT id, prompt_id FROM images WHERE id IN (${placeholders(all.length)})`,
          all,
        );
        const byId = new Map(found.map((r) => [r.id, r.prompt_id]));
        for (const id of all) {
          if (!byId.has(id))
            throw new FeedbackError('not_found', `comparison ${i}: image ${id} does not exist`);
          if (byId.get(id) !== s.promptId) {
            invalid(`comparison ${i}: image ${id} belongs to prompt ${byId.get(id)}, not ${s.promptId}`);
          }
        }
        const row = await q.get<{ id: number }>(
          `INSERT INTO comparisons (panel, prompt_id, model_a, model_b, set_a, set_b, a_on_left, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
          [
            s.panel,
            s.promptId,
            s.modelA,
            s.modelB,
            JSON.stringify(s.setA),
            JSON.stringify(s.setB),
            s.aOnLeft ? 1 : 0,
            created,
          ],
        );
        ids.push(row!.id);
      }
      return ids;
    });
  }

  async getComparison(id: number): Promise<ComparisonRow | null> {
    checkInt('comparison id', id);
    const r = await this.d.read((q) => q.get<ComparisonDbRow>(`${COMPARISON_SELECT} WHERE c.id = ?`, [id]));
    return r ? comparisonRow(r) : null;
  }

  async listComparisons(filter: { panel?: string } = {}): Promise<ComparisonRow[]> {
    const params: Param[] = [];
    let sql = COMPARISON_SELECT;
    if (filter.panel !== undefined) {
      sql += ' WHERE c.panel = ?';
      params.push(checkWord('panel', filter.panel));
    }
    const rows = await this.d.read((q) => q.all<ComparisonDbRow>(`${sql} ORDER BY c.id`, params));
    return rows.map(comparisonRow);
  }

  /**
   * Like nextImage for the rater panel: each query goes to ratersPerQuery distinct raters. (A
   * panel is a few hundred queries, so its transactions simply take the exclusive lock.)
   */
  async nextComparison(
    raterId: number,
    opts: { ratersPerQuery?: number; leaseMs?: number } = {},
  ): Promise<ComparisonRow | null> {
    checkInt('raterId', raterId);
    const k = checkInt('ratersPerQuery', opts.ratersPerQuery ?? DEFAULT_RATERS_PER_QUERY);
    const leaseMs = checkInt('leaseMs', opts.leaseMs ?? DEFAULT_LEASE_MS);
    const id = await this.d.tx(
      async (q) => {
        const t = Date.now();
        await q.run('DELETE FROM comparison_leases WHERE expires_at <= ?', [t]);
        const held = await q.get<{ comparison_id: number }>(
          `SELECT a.comparison_id FROM comparison_leases a WHERE a.rater_id = ?
             AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.comparison_id = a.comparison_id AND v.rater_id = a.rater_id)`,
          [raterId],
        );
        if (held) {
          await q.run('UPDATE comparison_leases SET expires_at = ? WHERE rater_id = ?', [
            t + leaseMs,
            raterId,
          ]);
          return held.comparison_id;
        }
        const row = await q.get<{ id: number }>(
          `SELECT c.id FROM comparisons c
           WHERE c.n_raters < ?
             AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.comparison_id = c.id AND v.rater_id = ?)
             AND c.n_raters + (SELECT COUNT(*) FROM comparison_leases a WHERE a.comparison_id = c.id AND a.rater_id <> ?) < ?
           ORDER BY c.n_raters DESC, c.id LIMIT 1`,
          [k, raterId, raterId, k],
        );
        if (!row) {
          await q.run('DELETE FROM comparison_leases WHERE rater_id = ?', [raterId]);
          return null;
        }
        await q.run(
          `INSERT INTO comparison_leases (rater_id, comparison_id, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (rater_id) DO UPDATE SET comparison_id = excluded.comparison_id, expires_at = excluded.expires_at`,
          [raterId, row.id, t + leaseMs],
        );
        return row.id;
      },
      { exclusive: true },
    );
    return id === null ? null : this.getComparison(id);
  }

  /** How many queries this rater answered, how many hold all their raters, and how many exist. */
  async raterProgress(
    raterId: number,
    opts: { ratersPerQuery?: number } = {},
  ): Promise<{ rated: number; complete: number; total: number; ratersPerQuery: number }> {
    checkInt('raterId', raterId);
    const k = checkInt('ratersPerQuery', opts.ratersPerQuery ?? DEFAULT_RATERS_PER_QUERY);
    return this.d.read(async (q) => {
      const mine = await q.get<{ n: number }>(
        "SELECT COUNT(*) AS n FROM votes WHERE rater_id = ? AND question = 'alignment'",
        [raterId],
      );
      const all = await q.get<{ total: number; complete: number | null }>(
        'SELECT COUNT(*) AS total, SUM(CASE WHEN n_raters >= ? THEN 1 ELSE 0 END) AS complete FROM comparisons',
        [k],
      );
      return { rated: mine!.n, complete: all!.complete ?? 0, total: all!.total, ratersPerQuery: k };
    });
  }

  /** Commits a rater's two answers (alignment and fidelity) to one query, in terms of sets A and B. */
  async recordVote(input: VoteInput, opts: { ratersPerQuery?: number } = {}): Promise<RecordVoteResult> {
    const comparisonId = checkInt('comparisonId', input.comparisonId);
    const raterId = checkInt('raterId', input.raterId);
    const alignment = checkOneOf('alignment', input.alignment, CHOICES);
    const fidelity = checkOneOf('fidelity', input.fidelity, CHOICES);
    const k = checkInt('ratersPerQuery', opts.ratersPerQuery ?? DEFAULT_RATERS_PER_QUERY);
    return this.d.tx(
      async (q) => {
        const c = await q.get<{ n_raters: number }>('SELECT n_raters FROM comparisons WHERE id = ?', [
          comparisonId,
        ]);
        if (!c) throw new FeedbackError('not_found', `comparison ${comparisonId} does not exist`);
        const mine = await q.all<{ question: string; choice: Choice }>(
          'SELECT question, choice FROM votes WHERE comparison_id = ? AND rater_id = ?',
          [comparisonId, raterId],
        );
        if (mine.length > 0) {
          const same =
            mine.find((v) => v.question === 'alignment')?.choice === alignment &&
            mine.find((v) => v.question === 'fidelity')?.choice === fidelity;
          if (same) return { status: 'unchanged' as const };
          throw new FeedbackError('conflict', `comparison ${comparisonId} already has this rater's votes`);
        }
        const leases = await q.get<{ n: number }>(
          'SELECT COUNT(*) AS n FROM comparison_leases WHERE comparison_id = ? AND rater_id <> ? AND expires_at > ?',
          [comparisonId, raterId, Date.now()],
        );
        if (c.n_raters + leases!.n >= k) {
          throw new FeedbackError('full', `comparison ${comparisonId} already has its ${k} raters`);
        }
        const t = now();
        await q.run(
          `INSERT INTO votes (comparison_id, rater_id, question, choice, created_at) VALUES (?, ?, 'alignment', ?, ?), (?, ?, 'fidelity', ?, ?)`,
          [comparisonId, raterId, alignment, t, comparisonId, raterId, fidelity, t],
        );
        await q.run('UPDATE comparisons SET n_raters = n_raters + 1 WHERE id = ?', [comparisonId]);
        await q.run('DELETE FROM comparison_leases WHERE rater_id = ? AND comparison_id = ?', [
          raterId,
          comparisonId,
        ]);
        return { status: 'created' as const };
      },
      { exclusive: true },
    );
  }

  /** Bulk votes without the queue (the simulated rater panel). Existing (query, rater) votes are kept. */
  async recordVotes(votes: readonly VoteInput[]): Promise<{ inserted: number; unchanged: number }> {
    for (const [i, v] of votes.entries()) {
      checkInt(`vote ${i}: comparisonId`, v.comparisonId);
      checkInt(`vote ${i}: raterId`, v.raterId);
      checkOneOf(`vote ${i}: alignment`, v.alignment, CHOICES);
      checkOneOf(`vote ${i}: fidelity`, v.fidelity, CHOICES);
    }
    const t = now();
    return this.d.tx(
      async (q) => {
        let inserted = 0;
        for (const v of votes) {
          const n = await q.run(
            `INSERT INTO votes (comparison_id, rater_id, question, choice, created_at) VALUES (?, ?, 'alignment', ?, ?), (?, ?, 'fidelity', ?, ?)
             ON CONFLICT (comparison_id, rater_id, question) DO NOTHING`,
            [v.comparisonId, v.raterId, v.alignment, t, v.comparisonId, v.raterId, v.fidelity, t],
          );
          if (n > 0) {
            inserted++;
            await q.run('UPDATE comparisons SET n_raters = n_raters + 1 WHERE id = ?', [v.comparisonId]);
          }
        }
        return { inserted, unchanged: votes.length - inserted };
      },
      { exclusive: true },
    );
  }

  /**
   * Per panel and question: how many raters preferred set A in each query, as the histogram and
   * the share of queries won with >= winThreshold votes (paper Figures 4 and 6; metrics.json `panel`).
   */
  async panelResults(opts: PanelOptions = {}): Promise<Record<string, PanelResult>> {
    const k = checkInt('ratersPerQuery', opts.ratersPerQuery ?? DEFAULT_RATERS_PER_QUERY);
    const threshold = checkInt('winThreshold', opts.winThreshold ?? DEFAULT_WIN_THRESHOLD);
    const comparisons = await this.listComparisons(opts.panel === undefined ? {} : { panel: opts.panel });
    const votes = await this.d.read((q) =>
      q.all<{ comparison_id: number; question: string; choice: Choice; n: number }>(
        'SELECT comparison_id, question, choice, COUNT(*) AS n FROM votes GROUP BY comparison_id, question, choice',
      ),
    );
    const tally = new Map<string, number>();
    for (const v of votes) tally.set(`${v.comparison_id}/${v.question}/${v.choice}`, v.n);
    const out: Record<string, PanelResult> = {};
    for (const panel of [...new Set(comparisons.map((c) => c.panel))].sort()) {
      const cs = comparisons.filter((c) => c.panel === panel);
      const question = (qn: 'alignment' | 'fidelity'): QuestionResult => {
        const perQuery: QueryVotes[] = cs.map((c) => ({
          comparisonId: c.id,
          promptId: c.promptId,
          prompt: c.prompt,
          split: c.split,
          a: tally.get(`${c.id}/${qn}/a`) ?? 0,
          b: tally.get(`${c.id}/${qn}/b`) ?? 0,
          tie: tally.get(`${c.id}/${qn}/tie`) ?? 0,
        }));
        const complete = perQuery.filter((p) => p.a + p.b + p.tie === k);
        const hist = new Array<number>(k + 1).fill(0);
        for (const p of complete) hist[p.a]! += 1;
        const n = complete.length;
        return {
          votes_hist: hist.map((h) => (n ? h / n : 0)),
          win_7plus: n ? complete.filter((p) => p.a >= threshold).length / n : 0,
          win_threshold: threshold,
          queries: n,
          per_query: perQuery,
        };
      };
      const alignment = question('alignment');
      out[panel] = {
        panel,
        modelA: cs[0]!.modelA,
        modelB: cs[0]!.modelB,
        queries: cs.length,
        complete: alignment.queries,
        alignment,
        fidelity: question('fidelity'),
      };
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // export / import

  /** Every label with its image, prompt and labeler (see export.ts for JSONL and Label Studio). */
  async exportLabels(filter: { purpose?: string } = {}): Promise<LabelRecord[]> {
    const rows = await this.listLabels(filter.purpose === undefined ? {} : { purpose: filter.purpose });
    return rows.map((r) => ({
      image_id: r.imageId,
      image_path: r.imagePath,
      prompt_id: r.promptId,
      prompt: r.prompt,
      category: r.category,
      split: r.split,
      model: r.model,
      labeler: r.labeler,
      labeler_kind: r.labelerKind,
      value: r.value,
      created_at: r.createdAt,
    }));
  }

  /**
   * Imports labels in one transaction: images are found by path (or id), labelers by name (created
   * without a token when missing). Any unknown image refuses the whole import. Labels already
   * stored are kept and counted as unchanged or conflicting.
   */
  async importLabels(records: readonly LabelImport[]): Promise<ImportResult> {
    const parsed = records.map((r, i) => {
      const where = `record ${i + 1}`;
      if (r.image_path === undefined && r.image_id === undefined)
        invalid(`${where}: needs image_path or image_id`);
      return {
        imagePath: r.image_path === undefined ? undefined : checkImagePath(r.image_path),
        imageId: r.image_id === undefined ? undefined : checkInt(`${where}: image_id`, r.image_id),
        labeler: checkLabelerName(r.labeler),
        kind: checkOneOf(`${where}: labeler_kind`, r.labeler_kind ?? 'human', LABELER_KINDS),
        value: checkOneOf(`${where}: value`, r.value, LABEL_VALUES),
        createdAt: r.created_at === undefined ? now() : checkTimestamp(`${where}: created_at`, r.created_at),
      };
    });
    return this.d.tx(
      async (q) => {
        const paths = [...new Set(parsed.flatMap((r) => (r.imagePath === undefined ? [] : [r.imagePath])))];
        const byPath = new Map<string, number>();
        for (const part of chunks(paths)) {
          const rows = await q.all<{ id: number; path: string }>(
            `SELECT id, path FROM images WHERE path IN (${placeholders(part.length)})`,
            part,
          );
          for (const r of rows) byPath.set(r.path, r.id);
        }
        const ids = [...new Set(parsed.flatMap((r) => (r.imagePath === undefined ? [r.imageId!] : [])))];
        const knownIds = new Set<number>();
        for (const part of chunks(ids)) {
          const rows = await q.all<{ id: number }>(
            `SELECT id FROM images WHERE id IN (${placeholders(part.length)})`,
            part,
          );
          for (const r of rows) knownIds.add(r.id);
        }
        const labelers = new Map<string, number>();
        let labelersCreated = 0;
        const rows: Array<{ imageId: number; labelerId: number; value: LabelValue; createdAt: string }> = [];
        for (const [i, r] of parsed.entries()) {
          const imageId =
            r.imagePath !== undefined
              ? byPath.get(r.imagePath)
              : knownIds.has(r.imageId!)
                ? r.imageId
                : undefined;
          if (imageId === undefined) {
            throw new FeedbackError(
              'not_found',
              `record ${i + 1}: image ${r.imagePath ?? r.imageId} is not in this database`,
            );
          }
          let labelerId = labelers.get(r.labeler);
          if (labelerId === undefined) {
            const before = await q.get<{ id: number }>('SELECT id FROM labelers WHERE name = ?', [r.labeler]);
            labelerId = before?.id ?? (await ensureLabelerIn(q, r.labeler, r.kind)).id;
            if (!before) labelersCreated++;
            labelers.set(r.labeler, labelerId);
          }
          rows.push({ imageId, labelerId, value: r.value, createdAt: r.createdAt });
        }
        return { ...(await insertLabelsBulk(q, rows, this.d.lock)), labelersCreated };
      },
      { exclusive: true },
    );
  }

  /** Row counts of every table (for logs and the CLI). */
  async counts(): Promise<Record<string, number>> {
    const tables = ['prompts', 'images', 'labelers', 'labels', 'rewards', 'comparisons', 'votes'] as const;
    const out: Record<string, number> = {};
    await this.d.read(async (q) => {
      for (const t of tables) {
        // t comes from the constant list above, never from input.
        out[t] = (await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`))!.n;
      }
    });
    return out;
  }
}

function newToken(id: number): string {
  return `t2i_${id}_${randomBytes(24).toString('base64url')}`;
}

async function ensureLabelerIn(q: Queryable, name: string, kind: LabelerKind): Promise<LabelerDbRow> {
  const row = await q.get<LabelerDbRow>(`${LABELER_SELECT} WHERE name = ?`, [name]);
  if (row) return row;
  return (await q.get<LabelerDbRow>(
    `INSERT INTO labelers (name, kind, is_admin, token_hash, created_at) VALUES (?, ?, 0, NULL, ?)
     RETURNING id, name, kind, is_admin, token_hash, created_at`,
    [name, kind, now()],
  ))!;
}

async function assertExist(
  q: Queryable,
  table: 'images' | 'labelers',
  what: string,
  ids: number[],
): Promise<void> {
  for (const part of chunks(ids)) {
    // table is one of two constants, never input
    const rows = await q.all<{ id: number }>(
      `SELECT id FROM ${table} WHERE id IN (${placeholders(part.length)})`,
      part,
    );
    if (rows.length !== part.length) {
      const have = new Set(rows.map((r) => r.id));
      throw new FeedbackError('not_found', `${what} ${part.find((id) => !have.has(id))} does not exist`);
    }
  }
}

async function insertLabelsBulk(
  q: Queryable,
  rows: ReadonlyArray<{ imageId: number; labelerId: number; value: LabelValue; createdAt: string }>,
  lock: { forUpdate: string },
): Promise<BulkLabelResult> {
  // Take the images' row locks first, in id order, like the queue does one image at a time: the
  // label counts recomputed below must not race a labeler's recordLabel on the same image.
  const imageIds = [...new Set(rows.map((r) => r.imageId))].sort((a, b) => a - b);
  for (const part of chunks(imageIds)) {
    await q.all(
      `SELECT id FROM images WHERE id IN (${placeholders(part.length)}) ORDER BY id${lock.forUpdate}`,
      part,
    );
  }
  let inserted = 0;
  let unchanged = 0;
  let conflicting = 0;
  const touched = new Set<number>();
  for (const r of rows) {
    const n = await q.run(
      `INSERT INTO labels (image_id, labeler_id, value, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (image_id, labeler_id) DO NOTHING`,
      [r.imageId, r.labelerId, r.value, r.createdAt],
    );
    if (n > 0) {
      inserted++;
      touched.add(r.imageId);
      continue;
    }
    const old = await q.get<{ value: string }>(
      'SELECT value FROM labels WHERE image_id = ? AND labeler_id = ?',
      [r.imageId, r.labelerId],
    );
    if (old?.value === r.value) unchanged++;
    else conflicting++;
  }
  for (const id of touched) {
    await q.run(
      'UPDATE images SET n_labels = (SELECT COUNT(*) FROM labels l WHERE l.image_id = ?) WHERE id = ?',
      [id, id],
    );
  }
  return { inserted, unchanged, conflicting };
}
