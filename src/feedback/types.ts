/**
 * Row and input types of the feedback database (one schema on SQLite and PostgreSQL; see
 * migrations.ts for the tables and docs/feedback.md for the reference).
 */

/** Prompt categories of the paper's Table 1. */
export const CATEGORIES = ['count', 'color', 'background', 'combination'] as const;
export type Category = (typeof CATEGORIES)[number];

/** Which prompt set a prompt belongs to: feedback data, or the 60 seen / 60 unseen eval prompts (Table 4). */
export const SPLITS = ['feedback', 'eval_seen', 'eval_unseen'] as const;
export type Split = (typeof SPLITS)[number];

/** A label of the paper's protocol: image-text alignment is good, bad, or the labeler skips. */
export const LABEL_VALUES = ['good', 'bad', 'skip'] as const;
export type LabelValue = (typeof LABEL_VALUES)[number];

export const LABELER_KINDS = ['human', 'simulated'] as const;
export type LabelerKind = (typeof LABELER_KINDS)[number];

/** The two questions of the rater panel (paper Figures 4 and 6). */
export const QUESTIONS = ['alignment', 'fidelity'] as const;
export type Question = (typeof QUESTIONS)[number];

/** A rater's answer in terms of the stored sets: set A better, set B better, or a tie. */
export const CHOICES = ['a', 'b', 'tie'] as const;
export type Choice = (typeof CHOICES)[number];

/**
 * What an image is for. The conventional values are 'feedback' (to be labeled), 'unlabeled'
 * (extra model samples scored by the reward model, D_model) and 'eval'; any lower-case word is allowed.
 */
export type ImagePurpose = 'feedback' | 'unlabeled' | 'eval' | (string & {});

export interface NewPrompt {
  text: string;
  category: Category;
  split: Split;
  /** The parsed prompt, e.g. {"object":"dog","count":2,"color":"blue","background":"forest"}. */
  structured?: unknown;
}

export interface PromptRow {
  id: number;
  text: string;
  category: Category;
  split: Split;
  structured: unknown;
  createdAt: string;
}

export interface NewImage {
  promptId: number;
  /** Relative to the run folder, with forward slashes, e.g. "images/000123.png". */
  path: string;
  /** Which generator drew it, e.g. "original", "finetuned". */
  model: string;
  seed?: number | null;
  /** Sampler settings, e.g. {"sampler":"ddim","steps":25,"guidance":7.5}. */
  sampler?: Record<string, unknown> | null;
  purpose: ImagePurpose;
}

export interface ImageRow {
  id: number;
  promptId: number;
  path: string;
  model: string;
  seed: number | null;
  sampler: Record<string, unknown> | null;
  purpose: string;
  /** Number of labels the image holds (kept by the repository in the same transaction as the labels). */
  nLabels: number;
  createdAt: string;
}

/** An image with its prompt, as the queue and listImages return it. */
export interface ImageInfo extends ImageRow {
  prompt: string;
  category: Category;
  split: Split;
}

export interface ImageFilter {
  purpose?: string;
  promptId?: number;
  model?: string;
  split?: Split;
  category?: Category;
  ids?: number[];
  limit?: number;
  offset?: number;
}

export interface LabelerRow {
  id: number;
  name: string;
  kind: LabelerKind;
  isAdmin: boolean;
  /** false for labelers created by an import or ensureLabeler: they cannot sign in until given a token. */
  canSignIn: boolean;
  createdAt: string;
}

export interface LabelRow {
  id: number;
  imageId: number;
  labelerId: number;
  value: LabelValue;
  createdAt: string;
}

/** A label joined with its image, prompt and labeler (what reward training and exports read). */
export interface LabelInfo extends LabelRow {
  imagePath: string;
  promptId: number;
  prompt: string;
  category: Category;
  split: Split;
  model: string;
  purpose: string;
  labeler: string;
  labelerKind: LabelerKind;
}

export interface LabelFilter {
  purpose?: string;
  labelerId?: number;
  labelerKind?: LabelerKind;
  category?: Category;
}

export interface RecordLabelResult {
  /** 'created': newly committed; 'unchanged': the same answer was already stored (an idempotent retry). */
  status: 'created' | 'unchanged';
  label: LabelRow;
}

export interface BulkLabel {
  imageId: number;
  labelerId: number;
  value: LabelValue;
  createdAt?: string;
}

export interface BulkLabelResult {
  inserted: number;
  /** Already stored with the same value. */
  unchanged: number;
  /** Already stored with a different value; the stored one is kept. */
  conflicting: number;
}

export interface QueueOptions {
  /** Distinct labelers per image (paper: 2). */
  labelsPerImage?: number;
  /** Which images the queue serves (default 'feedback'). */
  purpose?: string;
  /** How long a served image stays reserved for its labeler, in ms (default 10 minutes). */
  leaseMs?: number;
}

export interface LabelerProgress {
  /** Labels this labeler holds on the queue's images. */
  labeled: number;
  /** Images holding labelsPerImage labels or more. */
  complete: number;
  total: number;
  labelsPerImage: number;
}

export interface CategoryProgress {
  category: Category;
  images: number;
  complete: number;
  labels: number;
  /** labels / (images * labelsPerImage) */
  fraction: number;
}

export interface LabelerStats {
  id: number;
  name: string;
  kind: LabelerKind;
  labels: number;
  good: number;
  bad: number;
  skip: number;
  lastLabelAt: string | null;
}

export interface ProgressReport {
  labelsPerImage: number;
  byCategory: CategoryProgress[];
  total: Omit<CategoryProgress, 'category'>;
  byLabeler: LabelerStats[];
}

/** One row of the paper's Table 2: images per category and the share of good / bad / skip labels. */
export interface Table2Row {
  category: Category | 'total';
  images: number;
  labels: number;
  good: number;
  bad: number;
  skip: number;
  /** Percentages of the labels (0-100); 0 when there are no labels. */
  goodPct: number;
  badPct: number;
  skipPct: number;
}

export interface NewComparison {
  promptId: number;
  modelA: string;
  modelB: string;
  /** Image ids of set A and set B (the paper uses 4 each). */
  setA: number[];
  setB: number[];
  /** Groups queries for the results, e.g. "finetuned_vs_original" (default `${modelA}_vs_${modelB}`). */
  panel?: string;
  /** Screen side of set A; drawn from the seeded generator when absent. */
  aOnLeft?: boolean;
}

export interface ComparisonRow {
  id: number;
  panel: string;
  promptId: number;
  prompt: string;
  category: Category;
  split: Split;
  modelA: string;
  modelB: string;
  setA: number[];
  setB: number[];
  aOnLeft: boolean;
  nRaters: number;
  createdAt: string;
}

export interface VoteInput {
  comparisonId: number;
  raterId: number;
  alignment: Choice;
  fidelity: Choice;
}

export interface RecordVoteResult {
  status: 'created' | 'unchanged';
}

export interface PanelOptions {
  /** Raters per query (paper: 9). Only queries with this many raters count in the histogram. */
  ratersPerQuery?: number;
  /** Votes for A that make a win (paper: 7 of 9, a two-thirds vote). */
  winThreshold?: number;
  panel?: string;
}

export interface QueryVotes {
  comparisonId: number;
  promptId: number;
  prompt: string;
  split: Split;
  a: number;
  b: number;
  tie: number;
}

/** Results of one question, in the shape of report/metrics.json's `panel` entries. */
export interface QuestionResult {
  /** votes_hist[k] = share of complete queries where k raters preferred set A (length ratersPerQuery + 1). */
  votes_hist: number[];
  /** Share of complete queries with at least winThreshold votes for A. */
  win_7plus: number;
  win_threshold: number;
  queries: number;
  per_query: QueryVotes[];
}

export interface PanelResult {
  panel: string;
  modelA: string;
  modelB: string;
  /** Queries in the panel, and how many hold ratersPerQuery raters. */
  queries: number;
  complete: number;
  alignment: QuestionResult;
  fidelity: QuestionResult;
}

/** One label as exported to JSONL (and read back by importLabels). */
export interface LabelRecord {
  image_id: number;
  image_path: string;
  prompt_id: number;
  prompt: string;
  category: Category;
  split: Split;
  model: string;
  labeler: string;
  labeler_kind: LabelerKind;
  value: LabelValue;
  created_at: string;
}

/** What importLabels needs per line: the image (by path, or by id when there is no path), who and what. */
export interface LabelImport {
  image_path?: string;
  image_id?: number;
  labeler: string;
  labeler_kind?: LabelerKind;
  value: LabelValue;
  created_at?: string;
}

export interface ImportResult extends BulkLabelResult {
  labelersCreated: number;
}

export interface RewardRow {
  imageId: number;
  rewardModel: string;
  value: number;
}
