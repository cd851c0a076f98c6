/**
 * Inter-rater agreement: Cohen's kappa (two raters) and Fleiss' kappa (a fixed number of raters per
 * item, who may differ from item to item). Both are (P_o - P_e) / (1 - P_e): observed agreement
 * corrected for the agreement expected by chance. They are undefined (null here) when there are no
 * items or when chance agreement is already 1 (every answer in one category).
 */

/** Cohen (1960): `pairs[i]` = the two raters' categories for item i. */
export function cohenKappa(pairs: ReadonlyArray<readonly [string, string]>): number | null {
  const n = pairs.length;
  if (n === 0) return null;
  const a = new Map<string, number>();
  const b = new Map<string, number>();
  let agree = 0;
  for (const [x, y] of pairs) {
    if (x === y) agree++;
    a.set(x, (a.get(x) ?? 0) + 1);
    b.set(y, (b.get(y) ?? 0) + 1);
  }
  const po = agree / n;
  let pe = 0;
  for (const [cat, ca] of a) pe += (ca / n) * ((b.get(cat) ?? 0) / n);
  if (1 - pe < 1e-12) return null;
  return (po - pe) / (1 - pe);
}

/**
 * Fleiss (1971): `counts[i][j]` = how many raters put item i in category j. Every row must sum to
 * the same number of raters n >= 2.
 */
export function fleissKappa(counts: ReadonlyArray<ReadonlyArray<number>>): number | null {
  const N = counts.length;
  if (N === 0) return null;
  const k = counts[0]!.length;
  const n = counts[0]!.reduce((s, v) => s + v, 0);
  if (n < 2) throw new Error(`fleissKappa: each item needs at least 2 ratings, got ${n}`);
  const colTotals = new Array<number>(k).fill(0);
  let pSum = 0;
  for (const [i, row] of counts.entries()) {
    if (row.length !== k)
      throw new Error(`fleissKappa: item ${i} has ${row.length} categories, expected ${k}`);
    const rowSum = row.reduce((s, v) => s + v, 0);
    if (rowSum !== n)
      throw new Error(`fleissKappa: item ${i} has ${rowSum} ratings, expected ${n} like item 0`);
    let sq = 0;
    for (let j = 0; j < k; j++) {
      colTotals[j]! += row[j]!;
      sq += row[j]! * row[j]!;
    }
    pSum += (sq - n) / (n * (n - 1));
  }
  const pBar = pSum / N;
  let pe = 0;
  for (const t of colTotals) pe += (t / (N * n)) ** 2;
  if (1 - pe < 1e-12) return null;
  return (pBar - pe) / (1 - pe);
}

export interface RatedItem {
  itemId: number;
  group: string;
  ratings: ReadonlyArray<{ raterId: number; value: string }>;
}

export interface AgreementResult {
  /** 'cohen' when exactly two raters labeled the items, 'fleiss' for more, 'none' without items rated twice. */
  method: 'cohen' | 'fleiss' | 'none';
  kappa: number | null;
  /** Items the statistic used (for Fleiss: those with exactly ratersPerItem ratings). */
  items: number;
  raters: number;
  ratersPerItem: number;
  byGroup: Record<string, { method: 'cohen' | 'fleiss' | 'none'; kappa: number | null; items: number }>;
  /** Cohen's kappa of every pair of raters sharing at least one item. */
  pairwise: Array<{ raterA: number; raterB: number; kappa: number | null; items: number }>;
}

/**
 * Agreement of labels grouped by item. With two raters in all, Cohen's kappa over the items both
 * rated; with more, Fleiss' kappa over the items that hold exactly `ratersPerItem` ratings.
 */
export function agreement(
  items: readonly RatedItem[],
  categories: readonly string[],
  ratersPerItem: number,
): AgreementResult {
  const compute = (subset: readonly RatedItem[]) => {
    const raters = new Set<number>();
    for (const it of subset) for (const r of it.ratings) raters.add(r.raterId);
    if (raters.size === 2) {
      const [ra, rb] = [...raters].sort((x, y) => x - y) as [number, number];
      const pairs: Array<[string, string]> = [];
      for (const it of subset) {
        const va = it.ratings.find((r) => r.raterId === ra)?.value;
        const vb = it.ratings.find((r) => r.raterId === rb)?.value;
        if (va !== undefined && vb !== undefined) pairs.push([va, vb]);
      }
      if (pairs.length === 0) return { method: 'none' as const, kappa: null, items: 0, raters: raters.size };
      return { method: 'cohen' as const, kappa: cohenKappa(pairs), items: pairs.length, raters: raters.size };
    }
    const rows = subset
      .filter((it) => it.ratings.length === ratersPerItem)
      .map((it) => categories.map((c) => it.ratings.filter((r) => r.value === c).length));
    if (ratersPerItem < 2 || rows.length === 0) {
      return { method: 'none' as const, kappa: null, items: 0, raters: raters.size };
    }
    return { method: 'fleiss' as const, kappa: fleissKappa(rows), items: rows.length, raters: raters.size };
  };
  const overall = compute(items);
  const groups = [...new Set(items.map((it) => it.group))].sort();
  const byGroup: AgreementResult['byGroup'] = {};
  for (const g of groups) {
    const r = compute(items.filter((it) => it.group === g));
    byGroup[g] = { method: r.method, kappa: r.kappa, items: r.items };
  }
  const shared = new Map<string, Array<[string, string]>>();
  for (const it of items) {
    const rs = [...it.ratings].sort((x, y) => x.raterId - y.raterId);
    for (let i = 0; i < rs.length; i++) {
      for (let j = i + 1; j < rs.length; j++) {
        const key = `${rs[i]!.raterId},${rs[j]!.raterId}`;
        let list = shared.get(key);
        if (!list) {
          list = [];
          shared.set(key, list);
        }
        list.push([rs[i]!.value, rs[j]!.value]);
      }
    }
  }
  const pairwise = [...shared.entries()]
    .map(([key, pairs]) => {
      const [raterA, raterB] = key.split(',').map(Number) as [number, number];
      return { raterA, raterB, kappa: cohenKappa(pairs), items: pairs.length };
    })
    .sort((x, y) => x.raterA - y.raterA || x.raterB - y.raterB);
  return {
    method: overall.method,
    kappa: overall.kappa,
    items: overall.items,
    raters: overall.raters,
    ratersPerItem,
    byGroup,
    pairwise,
  };
}
