/**
 * Simulated people: binary labelers for feedback data (paper Table 2: good / bad / skip) and the
 * 9-rater panel that compares two sets of 4 images for one prompt (paper Figures 4 and 6), both
 * reading images through the judge.
 *
 * Labeler: answers the verdict (verdict.ts), `skip` where the verdict is unsure; with probability
 * `skipRate` it skips anyway and with probability `errorRate` it gives the opposite answer. The
 * slips of a labeler for an image are drawn from (seed, key), so it answers the same image the same
 * way every time, and two labelers disagree on about 2 e (1 - e) of the images both label.
 *
 * Panel: each set gets an alignment score (the share of its images the judge calls good, unsure
 * counting half) and a fidelity score (mean well-formedness). Each rater sees both scores through
 * their own noise, N(0, sigma_r^2) per set and question, with sigma_r drawn once per rater around
 * `noise`; a perceived difference within `tieMargin` is a tie. The output is the vote counts.
 */
import type { RGBImage } from './image.js';
import { type Judgement, judgeImage } from './judge.js';
import type { Prompt } from './prompt.js';
import { hashSeed, Rng } from './rng.js';
import { verdict, wellFormedness } from './verdict.js';

export type BinaryLabel = 'good' | 'bad' | 'skip';

export interface LabelerOptions {
  /** probability of answering the opposite of the verdict */
  errorRate: number;
  /** probability of skipping an image the verdict is sure about */
  skipRate: number;
  seed: number;
}

function checkRate(what: string, v: number): void {
  if (!(v >= 0 && v <= 1)) throw new Error(`${what} must be in [0, 1], got ${v}`);
}

/** A simulated labeler (see the file comment). */
export class BinaryLabeler {
  constructor(readonly options: LabelerOptions) {
    checkRate('labeler errorRate', options.errorRate);
    checkRate('labeler skipRate', options.skipRate);
    if (!Number.isInteger(options.seed))
      throw new Error(`labeler seed must be an integer, got ${options.seed}`);
  }

  /**
   * Labels `image` (or an existing judgement of it) for `prompt`. `key` names the image (a path,
   * an id); the labeler's slips for it are a function of (seed, key).
   */
  label(prompt: Prompt, image: RGBImage | Judgement, key: string | number): BinaryLabel {
    const v = verdict(prompt, image);
    const rng = new Rng(hashSeed(this.options.seed, 'label', key));
    const slip = rng.float() < this.options.errorRate;
    const skip = rng.float() < this.options.skipRate;
    if (v.label === 'unsure' || skip) return 'skip';
    const good = v.label === 'good';
    return good !== slip ? 'good' : 'bad';
  }
}

/** Vote counts of a panel on one question; a + b + tie = number of raters. */
export interface Votes {
  a: number;
  b: number;
  tie: number;
}

export interface PanelOptions {
  /** number of raters (default 9, as in the paper) */
  raters: number;
  /** typical standard deviation of a rater's perception noise on a score in [0, 1] (default 0.15) */
  noise: number;
  /** perceived score differences within this are a tie (default 0.1) */
  tieMargin: number;
  seed: number;
}

export const DEFAULT_PANEL: Readonly<Omit<PanelOptions, 'seed'>> = { raters: 9, noise: 0.15, tieMargin: 0.1 };

/** The judge's scores of a set of images: alignment (share good, unsure = 1/2) and fidelity (mean well-formedness). */
export function setScores(
  prompt: Prompt,
  images: ReadonlyArray<RGBImage | Judgement>,
): { alignment: number; fidelity: number } {
  if (images.length === 0) throw new Error('setScores: empty image set');
  let alignment = 0;
  let fidelity = 0;
  for (const image of images) {
    const j = 'data' in image ? judgeImage(image) : image;
    const v = verdict(prompt, j).label;
    alignment += v === 'good' ? 1 : v === 'unsure' ? 0.5 : 0;
    fidelity += wellFormedness(j);
  }
  return { alignment: alignment / images.length, fidelity: fidelity / images.length };
}

/**
 * A panel compares set A with set B for one prompt, once for image-text alignment and once for
 * fidelity. `key` names the query (its noise is a function of (seed, key)).
 */
export function panelCompare(
  prompt: Prompt,
  setA: ReadonlyArray<RGBImage | Judgement>,
  setB: ReadonlyArray<RGBImage | Judgement>,
  options: Partial<PanelOptions> & { seed: number },
  key: string | number = 0,
): { alignment: Votes; fidelity: Votes } {
  const o = { ...DEFAULT_PANEL, ...options };
  if (!Number.isInteger(o.raters) || o.raters < 1)
    throw new Error(`panel raters must be a positive integer, got ${o.raters}`);
  if (!(o.noise >= 0)) throw new Error(`panel noise must be non-negative, got ${o.noise}`);
  if (!(o.tieMargin >= 0)) throw new Error(`panel tieMargin must be non-negative, got ${o.tieMargin}`);
  const a = setScores(prompt, setA);
  const b = setScores(prompt, setB);
  return panelVotes(a, b, o, key);
}

/** The voting step of `panelCompare`, from the two sets' scores. */
export function panelVotes(
  a: { alignment: number; fidelity: number },
  b: { alignment: number; fidelity: number },
  options: PanelOptions,
  key: string | number = 0,
): { alignment: Votes; fidelity: Votes } {
  const alignment: Votes = { a: 0, b: 0, tie: 0 };
  const fidelity: Votes = { a: 0, b: 0, tie: 0 };
  for (let r = 0; r < options.raters; r++) {
    // rater r's own noise level, fixed across queries; the draws per query come from (seed, key, r)
    const sigma = options.noise * (0.5 + new Rng(hashSeed(options.seed, 'rater', r)).float());
    const rng = new Rng(hashSeed(options.seed, 'query', key, r));
    for (const [votes, sa, sb] of [
      [alignment, a.alignment, b.alignment],
      [fidelity, a.fidelity, b.fidelity],
    ] as const) {
      const d = sa + sigma * rng.normal() - (sb + sigma * rng.normal());
      if (d > options.tieMargin) votes.a++;
      else if (d < -options.tieMargin) votes.b++;
      else votes.tie++;
    }
  }
  return { alignment, fidelity };
}

/**
 * Histogram of how many raters preferred A over many queries (report/metrics.json's votes_hist):
 * `hist[k]` = share of queries where k of the `raters` voted A; `win7plus` = share with 7 or more.
 */
export function voteHistogram(
  votesForA: readonly number[],
  raters = 9,
): { votesHist: number[]; win7plus: number } {
  if (votesForA.length === 0) throw new Error('voteHistogram: no queries');
  const hist = new Array<number>(raters + 1).fill(0);
  for (const v of votesForA) {
    if (!Number.isInteger(v) || v < 0 || v > raters)
      throw new Error(`voteHistogram: ${v} votes out of ${raters} raters`);
    hist[v]! += 1 / votesForA.length;
  }
  const win7plus = votesForA.filter((v) => v >= Math.min(7, raters)).length / votesForA.length;
  return { votesHist: hist, win7plus };
}
