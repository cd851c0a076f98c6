/**
 * CLIP's byte-level BPE tokenizer (the `tokenizer/` folder of Stable Diffusion v1.5 and of
 * openai/clip-vit-large-patch14), from its `vocab.json` ({"token</w>": id}) and `merges.txt` (a
 * `#version` line, then one merge "a b" per line in priority order):
 *
 *  - text: whitespace runs collapse to one space, the ends are trimmed, everything is lower-cased
 *    (ftfy's repairs and HTML unescaping are not applied: the text is taken as written);
 *  - pieces: CLIP's regex, `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`;
 *  - each piece's UTF-8 bytes map to CLIP's byte-to-unicode alphabet, the last symbol carries `</w>`,
 *    and the merges apply lowest rank first until none applies;
 *  - ids: bos, tokens, eos, then pad to 77; a longer text keeps its first 75 tokens (bos + 75 + eos =
 *    77, what CLIPTokenizer(truncation=True, max_length=77) gives).
 *
 * `trainBpe` learns a small vocabulary in the same format (test fixtures and `--tiny` model folders:
 * the real 49,408-entry vocabulary is not shipped).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../torch/index.js';
import {
  batchIds,
  CLIP_MAX_LENGTH,
  END_OF_TEXT,
  type EncodeBatchOptions,
  padIds,
  START_OF_TEXT,
  type Tokenizer,
  TokenizerError,
  VOCAB_FILE,
} from './tokenizer.js';

export const MERGES_FILE = 'merges.txt';

/** CLIP's (GPT-2's) reversible map from bytes to printable unicode characters. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => {
    out[b] = String.fromCodePoint(cs[i]!);
  });
  return out;
}

const BYTE_CHARS = bytesToUnicode();
const BYTE_OF = new Map(BYTE_CHARS.map((c, b) => [c, b]));
const UTF8 = new TextEncoder();
/**
 * CLIP's `regex`-module \s is Unicode's White_Space property (JavaScript's \s differs: it has U+FEFF
 * and lacks U+0085); the final strip() is Python's str.isspace(), which adds U+001C-U+001F.
 */
const WHITESPACE = /\p{White_Space}+/gu;
// biome-ignore lint/suspicious/noControlCharactersInRegex: Python's str.isspace() holds U+001C-U+001F, which strip() removes
const ENDS = /^[\p{White_Space}\x1c-\x1f]+|[\p{White_Space}\x1c-\x1f]+$/gu;
const PIECES =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\p{White_Space}\p{L}\p{N}]+/giu;

/** The text as CLIP tokenizes it: whitespace collapsed, trimmed, lower-cased. */
export function cleanText(text: string): string {
  return text.replace(WHITESPACE, ' ').replace(ENDS, '').toLowerCase();
}

/** The regex pieces of cleaned text, each as CLIP's byte-to-unicode characters. */
export function bytePieces(text: string): string[] {
  return (cleanText(text).match(PIECES) ?? []).map((p) =>
    Array.from(UTF8.encode(p), (b) => BYTE_CHARS[b]!).join(''),
  );
}

export class ClipBpeTokenizer implements Tokenizer {
  readonly maxLength = CLIP_MAX_LENGTH;
  readonly vocabSize: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();
  private readonly decoder: Map<number, string>;

  /** `merges`: pairs in priority order (the lines of merges.txt after the version line). */
  constructor(
    readonly vocab: Readonly<Record<string, number>>,
    merges: readonly (readonly [string, string])[],
  ) {
    merges.forEach(([a, b], i) => {
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    });
    const id = (t: string) => {
      const v = vocab[t];
      if (v === undefined) throw new TokenizerError(`${VOCAB_FILE} has no "${t}" token`);
      return v;
    };
    this.bosTokenId = id(START_OF_TEXT);
    this.eosTokenId = id(END_OF_TEXT);
    // Stable Diffusion v1.5's tokenizer pads with the end token
    this.padTokenId = this.eosTokenId;
    this.decoder = new Map(Object.entries(vocab).map(([t, i]) => [i, t]));
    this.vocabSize = Math.max(...this.decoder.keys()) + 1;
  }

  /** Reads `vocab.json` and `merges.txt` of a tokenizer folder. */
  static fromFolder(dir: string): ClipBpeTokenizer {
    const vocabPath = join(dir, VOCAB_FILE);
    const mergesPath = join(dir, MERGES_FILE);
    for (const p of [vocabPath, mergesPath])
      if (!existsSync(p))
        throw new TokenizerError(`${p}: missing (a CLIP tokenizer folder holds vocab.json and merges.txt)`);
    let vocab: unknown;
    try {
      vocab = JSON.parse(readFileSync(vocabPath, 'utf8'));
    } catch (e) {
      throw new TokenizerError(`${vocabPath}: not JSON (${(e as Error).message})`);
    }
    if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab))
      throw new TokenizerError(`${vocabPath}: must hold a JSON object {token: id}`);
    return new ClipBpeTokenizer(
      vocab as Record<string, number>,
      parseMerges(readFileSync(mergesPath, 'utf8'), mergesPath),
    );
  }

  /** The BPE symbols of one byte-encoded piece. */
  bpe(piece: string): string[] {
    const hit = this.cache.get(piece);
    if (hit) return hit;
    const chars = Array.from(piece);
    let word = [...chars.slice(0, -1), `${chars[chars.length - 1]}</w>`];
    while (word.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best]!;
      const second = word[best + 1]!;
      // merge every occurrence of the pair, left to right, as CLIP's bpe() does
      const next: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          next.push(first + second);
          i += 2;
        } else {
          next.push(word[i]!);
          i++;
        }
      }
      word = next;
    }
    if (this.cache.size < 100_000) this.cache.set(piece, word);
    return word;
  }

  /** Token ids of a text, without bos/eos/padding and without truncation. */
  tokens(text: string): number[] {
    const out: number[] = [];
    for (const piece of bytePieces(text)) {
      if (piece === START_OF_TEXT || piece === END_OF_TEXT) {
        out.push(piece === START_OF_TEXT ? this.bosTokenId : this.eosTokenId);
        continue;
      }
      for (const sym of this.bpe(piece)) {
        const id = this.vocab[sym];
        if (id === undefined)
          throw new TokenizerError(`"${sym}" (from "${text}") is not in ${VOCAB_FILE}`, sym);
        out.push(id);
      }
    }
    return out;
  }

  private encodeUnpadded(text: string): number[] {
    return [this.bosTokenId, ...this.tokens(text).slice(0, this.maxLength - 2), this.eosTokenId];
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
    const bytes: number[] = [];
    for (const id of ids) {
      if (id === this.bosTokenId || id === this.eosTokenId || id === this.padTokenId) continue;
      const tok = this.decoder.get(id);
      if (tok === undefined) continue;
      for (const ch of Array.from(tok.replace(/<\/w>$/, ' '))) {
        const b = BYTE_OF.get(ch);
        if (b !== undefined) bytes.push(b);
        else bytes.push(...UTF8.encode(ch));
      }
    }
    return new TextDecoder().decode(Uint8Array.from(bytes)).trim();
  }
}

/** merges.txt: an optional `#version` line, then "a b" per line; blank lines are skipped. */
export function parseMerges(text: string, source = MERGES_FILE): [string, string][] {
  const out: [string, string][] = [];
  text.split('\n').forEach((line, i) => {
    const l = line.replace(/\r$/, '');
    if ((i === 0 && l.startsWith('#version')) || l.trim() === '') return;
    const parts = l.split(' ');
    if (parts.length !== 2 || !parts[0] || !parts[1])
      throw new TokenizerError(`${source}:${i + 1}: expected "a b", got ${JSON.stringify(l)}`);
    out.push([parts[0], parts[1]]);
  });
  return out;
}

/**
 * Learns `numMerges` BPE merges on `texts` (pieces as the tokenizer cuts them, most frequent pair
 * first, ties by the pair's text) and returns CLIP's vocabulary layout: the 256 byte characters, the
 * same with `</w>`, one token per merge, then the start and end tokens.
 */
export function trainBpe(
  texts: readonly string[],
  numMerges: number,
): { vocab: Record<string, number>; merges: [string, string][] } {
  const counts = new Map<string, number>();
  for (const t of texts) for (const p of bytePieces(t)) counts.set(p, (counts.get(p) ?? 0) + 1);
  const words = [...counts].map(([p, n]) => {
    const chars = Array.from(p);
    return { syms: [...chars.slice(0, -1), `${chars[chars.length - 1]}</w>`], n };
  });
  const merges: [string, string][] = [];
  for (let m = 0; m < numMerges; m++) {
    const pairs = new Map<string, number>();
    for (const w of words)
      for (let i = 0; i < w.syms.length - 1; i++) {
        const k = `${w.syms[i]} ${w.syms[i + 1]}`;
        pairs.set(k, (pairs.get(k) ?? 0) + w.n);
      }
    let best: string | null = null;
    let bestN = 0;
    for (const [k, n] of pairs)
      if (n > bestN || (n === bestN && best !== null && k < best)) [best, bestN] = [k, n];
    if (best === null) break;
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    for (const w of words) {
      const next: string[] = [];
      for (let i = 0; i < w.syms.length; ) {
        if (i < w.syms.length - 1 && w.syms[i] === a && w.syms[i + 1] === b) {
          next.push(a + b);
          i += 2;
        } else next.push(w.syms[i++]!);
      }
      w.syms = next;
    }
  }
  const tokens = [...BYTE_CHARS, ...BYTE_CHARS.map((c) => `${c}</w>`), ...merges.map(([a, b]) => a + b)];
  const vocab: Record<string, number> = {};
  for (const t of tokens) if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  vocab[START_OF_TEXT] = Object.keys(vocab).length;
  vocab[END_OF_TEXT] = Object.keys(vocab).length;
  return { vocab, merges };
}

/** merges.txt text of a merge list, with the version line CLIP's files start with. */
export function formatMerges(merges: readonly (readonly [string, string])[]): string {
  return `#version: 0.2\n${merges.map(([a, b]) => `${a} ${b}`).join('\n')}\n`;
}
