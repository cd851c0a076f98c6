/**
 * Tokenizers: text -> token ids for the CLIP text tower, laid out as CLIP's are
 * (`<|startoftext|>` w1 w2 ... `<|endoftext|>` then padding to 77 with the end token, as Stable
 * Diffusion's CLIPTokenizer pads).
 *
 * Two implementations share the `Tokenizer` interface:
 *  - `WorldTokenizer` (here): word level, for the sprite world. Its vocabulary is every word the world's
 *    prompt grammar and its caption noise can produce; an unknown word is an error naming the word,
 *    never dropped. The vocabulary travels with the model in the checkpoint's `vocab.json` (same shape
 *    as CLIP's: {"token": id}), so a checkpoint folder is self-contained.
 *  - `ClipBpeTokenizer` (bpe_tokenizer.ts): the CLIP BPE tokenizer of openai/clip-vit-large-patch14 and
 *    Stable Diffusion v1.5, built from that model's `vocab.json` + `merges.txt`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fromTypedArray, type Tensor } from '../torch/index.js';
import { CAPTION_WORDS } from '../world/corpus.js';
import { BACKGROUND_PHRASES, BACKGROUNDS, COLORS, COUNT_WORDS, OBJECTS, plural } from '../world/vocab.js';
import { ClipBpeTokenizer, MERGES_FILE } from './bpe_tokenizer.js';
import { CheckpointError, readCheckpointJson } from './checkpoint.js';

/** CLIP's special tokens (the BPE vocabulary's ids 49406 and 49407). */
export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
/** CLIP's context length: every sequence is padded to this many tokens. */
export const CLIP_MAX_LENGTH = 77;
/** File name of a tokenizer's vocabulary inside a checkpoint folder (as in CLIP's tokenizer folder). */
export const VOCAB_FILE = 'vocab.json';

/** An error in tokenizing: unknown word, text too long, bad vocabulary file. */
export class TokenizerError extends Error {
  constructor(
    message: string,
    /** the offending word, when there is one */
    readonly word?: string,
  ) {
    super(message);
    this.name = 'TokenizerError';
  }
}

export interface EncodeBatchOptions {
  /**
   * Columns of the result: a number (<= maxLength), or 'longest' for the longest sequence in the batch
   * (start + words + end). Default: maxLength (77), what Stable Diffusion feeds its text encoder.
   * Because the text tower is causal and pools at the end token, cutting the padding changes neither
   * the pooled output nor the hidden states up to the end token.
   */
  length?: number | 'longest';
}

/** `ids` (bos ... eos) padded with `padId` to `maxLength`. */
export function padIds(ids: number[], maxLength: number, padId: number): number[] {
  while (ids.length < maxLength) ids.push(padId);
  return ids;
}

/** int64 [B, length] of unpadded id sequences (bos ... eos), padded with `padId` (see EncodeBatchOptions). */
export function batchIds(
  seqs: readonly number[][],
  o: EncodeBatchOptions,
  maxLength: number,
  padId: number,
): Tensor {
  const longest = seqs.reduce((m, s) => Math.max(m, s.length), 2);
  const length = o.length === 'longest' ? longest : (o.length ?? maxLength);
  if (!Number.isInteger(length) || length < longest || length > maxLength) {
    throw new TokenizerError(
      `encodeBatch: length ${length} must be an integer in ${longest}..${maxLength} (the longest text needs ${longest})`,
    );
  }
  const data = new BigInt64Array(seqs.length * length).fill(BigInt(padId));
  seqs.forEach((s, i) => {
    for (let j = 0; j < s.length; j++) data[i * length + j] = BigInt(s[j]!);
  });
  return fromTypedArray(data, [seqs.length, length]);
}

/** What the CLIP text tower needs from a tokenizer. */
export interface Tokenizer {
  /** context length; sequences are padded to it (77 for CLIP) */
  readonly maxLength: number;
  readonly vocabSize: number;
  /** id of `<|startoftext|>` */
  readonly bosTokenId: number;
  /** id of `<|endoftext|>`; the text tower pools its hidden state here */
  readonly eosTokenId: number;
  /** id used after the end token (the end token itself, as in SD's CLIP tokenizer) */
  readonly padTokenId: number;
  /** ids of one text: [bos, ...words, eos, pad, ...], exactly maxLength long. */
  encode(text: string): number[];
  /** int64 [B, length] of several texts (see EncodeBatchOptions). */
  encodeBatch(texts: readonly string[], o?: EncodeBatchOptions): Tensor;
  /** ids back to text, special tokens dropped (for logs and tests) */
  decode(ids: readonly number[]): string;
}

// ---------------------------------------------------------------------------------------------
// Word-level tokenizer

/** Splits text into word tokens: lowercase words (letters, digits, apostrophes) and single punctuation marks. */
export function splitWords(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]/g) ?? [];
}

/** Every word the world's prompt grammar can write (src/world/prompt.ts), lowercase, plus "." and ",". */
export function worldGrammarWords(): string[] {
  const words = new Set<string>(['a', 'an', 'colored', '.', ',']);
  for (const w of Object.values(COUNT_WORDS)) words.add(w.toLowerCase());
  for (const c of COLORS) words.add(c);
  for (const o of OBJECTS) {
    words.add(o);
    words.add(plural(o));
  }
  for (const b of BACKGROUNDS) for (const w of splitWords(BACKGROUND_PHRASES[b])) words.add(w);
  return [...words];
}

/**
 * Word-level tokenizer with CLIP's layout. Ids: the words in vocabulary order, then `<|startoftext|>`
 * and `<|endoftext|>` as the two last ids (as in CLIP's BPE vocabulary, so the end token also has the
 * largest id). Text is lowercased; "." and "," are tokens of their own.
 */
export class WorldTokenizer implements Tokenizer {
  readonly maxLength: number;
  readonly vocabSize: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly #ids: ReadonlyMap<string, number>;
  readonly #tokens: readonly string[];

  /** From a CLIP-style vocabulary {token: id}; ids must be 0..N-1 and include both special tokens. */
  constructor(vocab: Readonly<Record<string, number>>, o: { maxLength?: number } = {}) {
    const entries = Object.entries(vocab);
    const tokens: string[] = new Array(entries.length);
    for (const [tok, id] of entries) {
      if (!Number.isInteger(id) || id < 0 || id >= entries.length || tokens[id] !== undefined) {
        throw new TokenizerError(
          `vocabulary: token "${tok}" has id ${id}; ids must be distinct integers 0..${entries.length - 1}`,
        );
      }
      if (
        tok !== START_OF_TEXT &&
        tok !== END_OF_TEXT &&
        (splitWords(tok).length !== 1 || splitWords(tok)[0] !== tok)
      ) {
        throw new TokenizerError(
          `vocabulary: "${tok}" is not a single lowercase word or punctuation mark`,
          tok,
        );
      }
      tokens[id] = tok;
    }
    for (const special of [START_OF_TEXT, END_OF_TEXT]) {
      if (!(special in vocab)) throw new TokenizerError(`vocabulary: missing the special token ${special}`);
    }
    this.#tokens = tokens;
    this.#ids = new Map(entries);
    this.vocabSize = entries.length;
    this.bosTokenId = vocab[START_OF_TEXT]!;
    this.eosTokenId = vocab[END_OF_TEXT]!;
    this.padTokenId = this.eosTokenId;
    this.maxLength = o.maxLength ?? CLIP_MAX_LENGTH;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 3)
      throw new TokenizerError(`maxLength must be an integer >= 3, got ${this.maxLength}`);
  }

  /** A tokenizer over `words` (deduplicated, sorted), special tokens appended. */
  static fromWords(words: Iterable<string>, o: { maxLength?: number } = {}): WorldTokenizer {
    const sorted = [...new Set(words)].sort();
    const vocab: Record<string, number> = {};
    sorted.forEach((w, i) => {
      vocab[w] = i;
    });
    vocab[START_OF_TEXT] = sorted.length;
    vocab[END_OF_TEXT] = sorted.length + 1;
    return new WorldTokenizer(vocab, o);
  }

  /** The vocabulary as CLIP's vocab.json stores it: {token: id}, in id order. */
  vocabJson(): Record<string, number> {
    return Object.fromEntries(this.#tokens.map((t, i) => [t, i]));
  }

  /** Word tokens of `text` (no special tokens); throws TokenizerError naming an unknown word. */
  tokenize(text: string): string[] {
    const words = splitWords(text);
    for (const w of words) {
      if (!this.#ids.has(w) || w === START_OF_TEXT || w === END_OF_TEXT) {
        throw new TokenizerError(
          `unknown word "${w}" in "${text}" (the world tokenizer knows ${this.vocabSize - 2} words)`,
          w,
        );
      }
    }
    return words;
  }

  /** [bos, ...ids of words, eos] without padding. */
  encodeUnpadded(text: string): number[] {
    const ids = this.tokenize(text).map((w) => this.#ids.get(w)!);
    if (ids.length + 2 > this.maxLength) {
      throw new TokenizerError(
        `"${text}" has ${ids.length} tokens; at most ${this.maxLength - 2} fit in ${this.maxLength} positions`,
      );
    }
    return [this.bosTokenId, ...ids, this.eosTokenId];
  }

  encode(text: string): number[] {
    return padIds(this.encodeUnpadded(text), this.maxLength, this.padTokenId);
  }

  encodeBatch(texts: readonly string[], o: EncodeBatchOptions = {}): Tensor {
    return batchIds(
      texts.map((t) => this.encodeUnpadded(t)),
      o,
      this.maxLength,
      this.padTokenId,
    );
  }

  decode(ids: readonly number[]): string {
    const words: string[] = [];
    for (const id of ids) {
      if (id === this.bosTokenId || id === this.eosTokenId || id === this.padTokenId) continue;
      const w = this.#tokens[id];
      if (w === undefined)
        throw new TokenizerError(`decode: id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      words.push(w);
    }
    return words.join(' ').replace(/ ([.,])/g, '$1');
  }
}

/**
 * The sprite world's tokenizer: the prompt grammar's words plus the caption noise's (`CAPTION_WORDS` of
 * src/world/corpus.ts: "some", "photo", "of", "that", "is", "are", ...) and any `extraWords`.
 */
export function worldTokenizer(extraWords: Iterable<string> = []): WorldTokenizer {
  return WorldTokenizer.fromWords([...worldGrammarWords(), ...CAPTION_WORDS, ...extraWords]);
}

/**
 * The tokenizer stored in a checkpoint folder: `vocab.json` alone is a WorldTokenizer; a folder with
 * `merges.txt` holds CLIP's BPE tokenizer (bpe_tokenizer.ts: byte-level BPE with CLIP's text cleaning and
 * regex, bos/eos, padding with the end token and truncation to 77 tokens).
 */
export function loadTokenizer(dir: string): Tokenizer {
  if (existsSync(join(dir, MERGES_FILE))) {
    try {
      return ClipBpeTokenizer.fromFolder(dir);
    } catch (e) {
      if (e instanceof TokenizerError) throw new CheckpointError(e.message);
      throw e;
    }
  }
  const raw = readCheckpointJson(dir, VOCAB_FILE);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new CheckpointError(`${dir}/${VOCAB_FILE}: must hold a JSON object {token: id}`);
  try {
    return new WorldTokenizer(raw as Record<string, number>);
  } catch (e) {
    if (e instanceof TokenizerError) throw new CheckpointError(`${dir}/${VOCAB_FILE}: ${e.message}`);
    throw e;
  }
}
