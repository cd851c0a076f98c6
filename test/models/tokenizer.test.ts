/**
 * The word-level world tokenizer (CLIP's layout, the world's whole vocabulary, errors that name the word)
 * and CLIP's BPE tokenizer against an independent Python reference (golden/bpe_ref.py).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, test } from 'node:test';
import {
  bytesToUnicode,
  ClipBpeTokenizer,
  formatMerges,
  parseMerges,
  trainBpe,
} from '../../src/models/bpe_tokenizer.js';
import { CheckpointError } from '../../src/models/checkpoint.js';
import {
  CLIP_MAX_LENGTH,
  END_OF_TEXT,
  loadTokenizer,
  START_OF_TEXT,
  TokenizerError,
  VOCAB_FILE,
  WorldTokenizer,
  worldTokenizer,
} from '../../src/models/tokenizer.js';
import { corpusItem, DEFAULT_CORPUS } from '../../src/world/corpus.js';
import { evalPrompts } from '../../src/world/eval_prompts.js';
import { feedbackPrompts } from '../../src/world/feedback_prompts.js';

const tok = worldTokenizer();

test('encode: <|startoftext|> words <|endoftext|>, padded to 77 with the end token', () => {
  const ids = tok.encode('Two blue dogs in San Francisco.');
  assert.equal(ids.length, CLIP_MAX_LENGTH);
  assert.equal(ids[0], tok.bosTokenId);
  const words = ['two', 'blue', 'dogs', 'in', 'san', 'francisco', '.'];
  const vocab = tok.vocabJson();
  assert.deepEqual(
    ids.slice(1, 8),
    words.map((w) => vocab[w]),
  );
  assert.equal(ids[8], tok.eosTokenId);
  assert.ok(ids.slice(9).every((i) => i === tok.padTokenId));
  // as in SD's CLIP tokenizer: pad is the end token; both special tokens take the last two ids
  assert.equal(tok.padTokenId, tok.eosTokenId);
  assert.equal(vocab[START_OF_TEXT], tok.vocabSize - 2);
  assert.equal(vocab[END_OF_TEXT], tok.vocabSize - 1);
  assert.equal(tok.decode(ids), 'two blue dogs in san francisco.');
});

test('lowercases; "." and "," are tokens of their own', () => {
  assert.deepEqual(tok.tokenize('A RED Colored Apple, On The Moon.'), [
    'a',
    'red',
    'colored',
    'apple',
    ',',
    'on',
    'the',
    'moon',
    '.',
  ]);
  assert.deepEqual(tok.encode('a dog.'), tok.encode('A  dog .'));
});

test('every feedback and evaluation prompt, and 3,000 corpus captions, tokenize', () => {
  for (const p of feedbackPrompts('paper')) tok.encode(p.text);
  for (const p of evalPrompts()) tok.encode(p.text);
  for (let i = 0; i < 3000; i++) tok.encode(corpusItem(DEFAULT_CORPUS, i).caption);
});

test('an unknown word is a TokenizerError that names it', () => {
  assert.throws(
    () => tok.encode('Two zebras in the forest.'),
    (e: unknown) =>
      e instanceof TokenizerError && e.word === 'zebras' && /unknown word "zebras"/.test(e.message),
  );
  assert.throws(
    () => tok.encode('a dog!'),
    (e: unknown) => e instanceof TokenizerError && e.word === '!',
  );
  // special tokens cannot be smuggled in as text
  assert.throws(() => tok.encode('<|endoftext|>'), TokenizerError);
});

test('encodeBatch: int64 [B, 77] by default, or the longest sequence, or a fixed length', () => {
  const texts = ['Two dogs.', 'A green colored dog in the forest.'];
  const full = tok.encodeBatch(texts);
  assert.equal(full.dtype, 'int64');
  assert.deepEqual(full.shape, [2, 77]);
  assert.deepEqual(full.toArray().slice(0, 77), tok.encode(texts[0]!));
  const longest = tok.encodeBatch(texts, { length: 'longest' });
  assert.deepEqual(longest.shape, [2, 10]); // bos + 8 words/marks + eos
  assert.deepEqual(longest.toArray().slice(10), tok.encode(texts[1]!).slice(0, 10));
  assert.deepEqual(tok.encodeBatch(texts, { length: 16 }).shape, [2, 16]);
  assert.throws(() => tok.encodeBatch(texts, { length: 5 }), /length 5 must be an integer in 10\.\.77/);
  assert.throws(() => tok.encode(Array(80).fill('dog').join(' ')), /at most 75 fit in 77 positions/);
  for (const t of [full, longest]) t.dispose();
});

test('vocab.json round trip through a checkpoint folder; bad vocabularies are errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 't2i-tok-'));
  writeFileSync(join(dir, VOCAB_FILE), JSON.stringify(tok.vocabJson()));
  const back = loadTokenizer(dir);
  assert.equal(back.vocabSize, tok.vocabSize);
  assert.deepEqual(
    back.encode('Six purple wolves on the moon.'),
    tok.encode('Six purple wolves on the moon.'),
  );

  writeFileSync(join(dir, VOCAB_FILE), JSON.stringify({ dog: 0, [START_OF_TEXT]: 1 }));
  assert.throws(
    () => loadTokenizer(dir),
    (e: unknown) =>
      e instanceof CheckpointError && /missing the special token <\|endoftext\|>/.test(e.message),
  );
  writeFileSync(
    join(dir, VOCAB_FILE),
    JSON.stringify({ dog: 0, cat: 0, [START_OF_TEXT]: 1, [END_OF_TEXT]: 2 }),
  );
  assert.throws(() => loadTokenizer(dir), /ids must be distinct/);
  assert.throws(
    () => new WorldTokenizer({ 'two words': 0, [START_OF_TEXT]: 1, [END_OF_TEXT]: 2 }),
    /not a single lowercase word/,
  );
  // with merges.txt beside it, the folder holds CLIP's BPE tokenizer
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
  assert.ok(loadTokenizer(dir) instanceof ClipBpeTokenizer);
});

describe('CLIP BPE tokenizer', () => {
  const golden = join('test', 'models', 'golden');
  const strings = JSON.parse(readFileSync(join(golden, 'bpe_strings.json'), 'utf8')) as string[];
  const expected = JSON.parse(readFileSync(join(golden, 'bpe_tiny_ids.json'), 'utf8')) as number[][];

  it('matches the independent Python reference on every golden string', () => {
    // bpe_ref.py implements OpenAI's simple_tokenizer on the same vocab.json + merges.txt
    const tok = loadTokenizer(join(golden, 'bpe_tiny'));
    assert.ok(tok instanceof ClipBpeTokenizer);
    assert.ok(strings.length >= 200);
    strings.forEach((s, i) => {
      assert.deepEqual(tok.encode(s), expected[i], JSON.stringify(s));
    });
    // the batch form holds the same rows, and 'longest' cuts only padding
    const batch = tok.encodeBatch(strings.slice(0, 8), { length: 'longest' });
    const rows = batch.toArray();
    const L = batch.size(1);
    for (let i = 0; i < 8; i++)
      assert.deepEqual(rows.slice(i * L, (i + 1) * L), expected[i]!.slice(0, L), JSON.stringify(strings[i]));
  });

  it('lays out bos, tokens, eos and end-token padding; truncates to 77', () => {
    const tok = ClipBpeTokenizer.fromFolder(join(golden, 'bpe_tiny'));
    const ids = tok.encode('Two dogs.');
    assert.equal(ids.length, 77);
    assert.equal(ids[0], tok.bosTokenId);
    const end = ids.indexOf(tok.eosTokenId);
    assert.ok(end > 1);
    assert.ok(ids.slice(end).every((x) => x === tok.padTokenId));
    assert.equal(tok.decode(ids), 'two dogs .');
    const long = tok.encode('word '.repeat(200));
    assert.equal(long.length, 77);
    assert.equal(long[76], tok.eosTokenId);
    assert.notEqual(long[75], tok.eosTokenId);
    assert.deepEqual(bytesToUnicode().length, 256);
    assert.equal(new Set(bytesToUnicode()).size, 256);
  });

  it('learns merges reproducibly, and names a broken folder', () => {
    const a = trainBpe(['the cat the hat the'], 5);
    assert.deepEqual(a, trainBpe(['the cat the hat the'], 5));
    // 'h e</w>' and 't h' both occur 3 times: the tie goes to the smaller text
    assert.deepEqual(a.merges[0], ['h', 'e</w>']);
    assert.equal(Object.keys(a.vocab).length, 512 + 5 + 2);
    assert.deepEqual(parseMerges(formatMerges(a.merges)), a.merges);
    assert.throws(() => parseMerges('#version: 0.2\na b c\n'), /merges\.txt:2: expected "a b"/);
    const dir = mkdtempSync(join(tmpdir(), 't2i-bpe-'));
    try {
      writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
      assert.throws(() => loadTokenizer(dir), /vocab\.json: missing/);
      writeFileSync(join(dir, 'vocab.json'), '{"a": 0}');
      assert.throws(() => loadTokenizer(dir), /has no "<\|startoftext\|>" token/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
