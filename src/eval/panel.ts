/**
 * The rater panel of the paper's Figures 4 and 6: for each evaluation prompt, 9 simulated raters
 * compare set A (4 images of model a) with set B (4 images of model b), once for image-text
 * alignment and once for fidelity, and vote A, B or tie (world/raters.ts). Per panel "<a>_vs_<b>"
 * the result is the histogram of votes for A over the prompts and the share of prompts A wins with
 * 7 or more of the 9 votes (a two-thirds vote).
 *
 * The queries and every rater's votes are also stored in the run's feedback.db (comparisons, votes;
 * raters `panel-1` ... `panel-9`, kind simulated), so the web app's admin view shows the same panels.
 */
import type { FeedbackDb } from '../feedback/db.js';
import type { Choice } from '../feedback/types.js';
import type { Judgement } from '../world/judge.js';
import {
  DEFAULT_PANEL,
  type PanelOptions,
  panelVotes,
  setScores,
  type Votes,
  voteHistogram,
} from '../world/raters.js';
import type { EvalItem } from './eval_set.js';
import type { PanelMetrics } from './metrics.js';

/** One query of a panel: the prompt and each rater's choice on both questions. */
export interface PanelQuery {
  item: EvalItem;
  /** choices[r] of rater r */
  alignment: Choice[];
  fidelity: Choice[];
}

/** A panel to run: "<a>_vs_<b>" compares model a (set A) with model b (set B). */
export interface PanelSpec {
  name: string;
  a: string;
  b: string;
}

/** `${a}_vs_${b}` parsed; both names must be non-empty. */
export function parsePanelName(name: string): PanelSpec {
  const m = /^(.+?)_vs_(.+)$/.exec(name);
  if (!m) throw new Error(`panel "${name}" must be written <a>_vs_<b>, e.g. finetuned_vs_original`);
  return { name, a: m[1]!, b: m[2]! };
}

const CHOICE: Record<keyof Votes, Choice> = { a: 'a', b: 'b', tie: 'tie' };

/**
 * Each rater's choice for scores a and b. `panelVotes` draws rater r's noise from (seed, r) and
 * (seed, key, r) alone, so the votes of raters 0..r-1 are the same whatever the panel size and rater
 * r's vote is the difference between the tallies of panels of r + 1 and r raters.
 */
export function raterChoices(
  a: { alignment: number; fidelity: number },
  b: { alignment: number; fidelity: number },
  options: PanelOptions,
  key: string,
): { alignment: Choice[]; fidelity: Choice[] } {
  const out = { alignment: [] as Choice[], fidelity: [] as Choice[] };
  let before: { alignment: Votes; fidelity: Votes } = {
    alignment: { a: 0, b: 0, tie: 0 },
    fidelity: { a: 0, b: 0, tie: 0 },
  };
  for (let r = 1; r <= options.raters; r++) {
    const now = panelVotes(a, b, { ...options, raters: r }, key);
    for (const q of ['alignment', 'fidelity'] as const) {
      const k = (['a', 'b', 'tie'] as const).find((c) => now[q][c] === before[q][c] + 1);
      if (!k) throw new Error(`panel: rater ${r} of query ${key} cast no single vote`);
      out[q].push(CHOICE[k]);
    }
    before = now;
  }
  return out;
}

/**
 * Runs panel `spec` over the items: set A of item i is `judged[a][i]`, set B `judged[b][i]` (the
 * judge's readings of the 4 images). Query noise is keyed by the panel name and the prompt.
 */
export function runPanel(o: {
  spec: PanelSpec;
  items: readonly EvalItem[];
  setsA: ReadonlyArray<ReadonlyArray<Judgement>>;
  setsB: ReadonlyArray<ReadonlyArray<Judgement>>;
  options: Partial<PanelOptions> & { seed: number };
}): PanelQuery[] {
  const options: PanelOptions = { ...DEFAULT_PANEL, ...o.options };
  return o.items.map((item, i) => {
    const a = setScores(item.prompt, o.setsA[i]!);
    const b = setScores(item.prompt, o.setsB[i]!);
    return { item, ...raterChoices(a, b, options, `${o.spec.name}/${item.text}`) };
  });
}

/** votes_hist and win_7plus per question (world/raters.ts voteHistogram). */
export function panelSummary(queries: readonly PanelQuery[], raters = DEFAULT_PANEL.raters): PanelMetrics {
  const summary = (q: 'alignment' | 'fidelity') => {
    const h = voteHistogram(
      queries.map((x) => x[q].filter((c) => c === 'a').length),
      raters,
    );
    return { votes_hist: h.votesHist, win_7plus: h.win7plus };
  };
  return { alignment: summary('alignment'), fidelity: summary('fidelity') };
}

/** Names of the simulated panel raters in the database. */
export function panelRaterNames(raters: number): string[] {
  return Array.from({ length: raters }, (_, r) => `panel-${r + 1}`);
}

/**
 * Stores the panel's queries and votes: one comparison per prompt (sets of image ids), one vote per
 * rater. A comparison with the same panel, prompt and sets is reused, and votes already stored are
 * kept, so storing again after an interruption adds nothing twice.
 */
export async function storePanel(
  db: FeedbackDb,
  o: {
    spec: PanelSpec;
    queries: readonly PanelQuery[];
    /** database prompt id of each query's prompt */
    promptIds: readonly number[];
    /** image ids of set A and set B of each query */
    idsA: ReadonlyArray<readonly number[]>;
    idsB: ReadonlyArray<readonly number[]>;
    seed: number;
  },
): Promise<{ comparisons: number; votes: number }> {
  const raters = o.queries[0]?.alignment.length ?? 0;
  const raterIds = (
    await Promise.all(panelRaterNames(raters).map((name) => db.ensureLabeler({ name, kind: 'simulated' })))
  ).map((r) => r.id);
  const existing = new Map(
    (await db.listComparisons({ panel: o.spec.name })).map((c) => [
      JSON.stringify([c.promptId, c.setA, c.setB]),
      c.id,
    ]),
  );
  const ids: number[] = new Array(o.queries.length);
  const missing: number[] = [];
  o.queries.forEach((_, i) => {
    const id = existing.get(JSON.stringify([o.promptIds[i], o.idsA[i], o.idsB[i]]));
    if (id === undefined) missing.push(i);
    else ids[i] = id;
  });
  const created = await db.createComparisons(
    missing.map((i) => ({
      promptId: o.promptIds[i]!,
      modelA: o.spec.a,
      modelB: o.spec.b,
      setA: [...o.idsA[i]!],
      setB: [...o.idsB[i]!],
      panel: o.spec.name,
    })),
    { seed: o.seed },
  );
  missing.forEach((i, j) => {
    ids[i] = created[j]!;
  });
  const votes = o.queries.flatMap((q, i) =>
    raterIds.map((raterId, r) => ({
      comparisonId: ids[i]!,
      raterId,
      alignment: q.alignment[r]!,
      fidelity: q.fidelity[r]!,
    })),
  );
  const { inserted } = await db.recordVotes(votes);
  return { comparisons: missing.length, votes: inserted };
}
