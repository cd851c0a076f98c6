/**
 * bench:words — how well a frozen text encoder separates every word class the prompts use (issue
 * "Fine-tuning that aligns", control (c)): the diffusion model can only follow a word that changes
 * its cross-attention context.
 *
 * For each class (counts 1-6, the 9 colors, the 8 backgrounds, the 25 objects) it encodes prompts
 * of the world's grammar that differ only in that word, in several contexts (the 5 core objects,
 * or 5 fixed phrasings for the object class), and for every pair of words reports the cosine of
 * the two last hidden states
 *  - at the word: the first token position where the two prompts' ids differ;
 *  - over the sequence: the whole context the UNet attends to, from that position to the end token
 *    (flattened), since the causal text tower changes every later position too;
 *  - pooled: the hidden state at the end token (what a global conditioning would read).
 * Per class it prints the mean over pairs and the worst (highest) pair of each.
 *
 *   npm run bench:words [-- --clip checkpoints/world/clip[,other/clip ...]]
 * The last line is JSON.
 */
import { parseArgs } from 'node:util';
import { loadCLIPTextModel } from '../src/models/clip.js';
import { loadTokenizer } from '../src/models/tokenizer.js';
import { noGrad, tidy } from '../src/torch/index.js';
import { formatPrompt, type Prompt } from '../src/world/prompt.js';
import { BACKGROUNDS, COLORS, COUNTS, OBJECTS } from '../src/world/vocab.js';

const { values } = parseArgs({ options: { clip: { type: 'string', default: 'checkpoints/world/clip' } } });

const CORE = ['dog', 'donut', 'cake', 'vase', 'apple'] as const;

interface WordClass {
  name: string;
  words: readonly string[];
  /** contexts x words -> prompt text */
  prompts: string[][];
}

function classes(): WordClass[] {
  const count: WordClass = {
    name: 'count',
    words: COUNTS.map(String),
    prompts: CORE.map((object) => COUNTS.map((count) => formatPrompt({ object, count }))),
  };
  const color: WordClass = {
    name: 'color',
    words: COLORS,
    prompts: CORE.map((object) => COLORS.map((color) => formatPrompt({ object, color }))),
  };
  const background: WordClass = {
    name: 'background',
    words: BACKGROUNDS,
    prompts: CORE.map((object) => BACKGROUNDS.map((background) => formatPrompt({ object, background }))),
  };
  const contexts: ((o: (typeof OBJECTS)[number]) => Prompt)[] = [
    (object) => ({ object }),
    (object) => ({ object, count: 2 }),
    (object) => ({ object, count: 4 }),
    (object) => ({ object, color: 'red' }),
    (object) => ({ object, background: 'forest' }),
  ];
  const object: WordClass = {
    name: 'object',
    words: OBJECTS,
    prompts: contexts.map((f) => OBJECTS.map((o) => formatPrompt(f(o)))),
  };
  return [count, color, background, object];
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

interface Stat {
  mean: number;
  worst: number;
  worstPair: string;
}

function summarise(values: { v: number; pair: string }[]): Stat {
  let worst = values[0]!;
  for (const x of values) if (x.v > worst.v) worst = x;
  return { mean: values.reduce((s, x) => s + x.v, 0) / values.length, worst: worst.v, worstPair: worst.pair };
}

const countPairs: Record<string, Record<string, number>> = {};
const results: Record<string, Record<string, { word: Stat; sequence: Stat; pooled: Stat }>> = {};
for (const dir of values.clip.split(',').map((s) => s.trim())) {
  const model = loadCLIPTextModel(dir);
  const tokenizer = loadTokenizer(dir);
  const D = model.config.hidden_size;
  results[dir] = {};
  console.log(`\n${dir}: cosine of last hidden states (mean over pairs / worst pair)`);
  console.log(
    `${'class'.padEnd(12)} pairs   ${'at the word'.padEnd(30)}${'over the sequence'.padEnd(30)}pooled (end token)`,
  );
  for (const cls of classes()) {
    const word: { v: number; pair: string }[] = [];
    const seq: { v: number; pair: string }[] = [];
    const pooled: { v: number; pair: string }[] = [];
    for (const row of cls.prompts) {
      const ids = row.map((t) => tokenizer.encode(t));
      const { hidden, pool } = noGrad(() =>
        tidy(() => {
          const out = model.forward(tokenizer.encodeBatch(row));
          return { hidden: out.lastHiddenState.toFloat32Array(), pool: out.pooled.toFloat32Array() };
        }),
      );
      const L = tokenizer.maxLength;
      const at = (k: number, from: number, to: number) =>
        hidden.subarray((k * L + from) * D, (k * L + to) * D);
      for (let i = 0; i < row.length; i++) {
        for (let j = i + 1; j < row.length; j++) {
          const a = ids[i]!;
          const b = ids[j]!;
          let p = 0;
          while (p < L && a[p] === b[p]) p++;
          const endA = a.indexOf(tokenizer.eosTokenId);
          const endB = b.indexOf(tokenizer.eosTokenId);
          const end = Math.max(endA, endB) + 1;
          const pair = `${cls.words[i]}/${cls.words[j]}`;
          word.push({ v: cosine(at(i, p, p + 1), at(j, p, p + 1)), pair });
          seq.push({ v: cosine(at(i, p, end), at(j, p, end)), pair });
          pooled.push({
            v: cosine(pool.subarray(i * D, (i + 1) * D), pool.subarray(j * D, (j + 1) * D)),
            pair,
          });
        }
      }
    }
    const r = { word: summarise(word), sequence: summarise(seq), pooled: summarise(pooled) };
    if (cls.name === 'count') {
      // every count pair, averaged over the contexts: the classes' worst pairs hide where counts merge
      const byPair = new Map<string, number[]>();
      for (const x of seq) byPair.set(x.pair, [...(byPair.get(x.pair) ?? []), x.v]);
      countPairs[dir] = Object.fromEntries(
        [...byPair].map(([k, v]) => [k, Number((v.reduce((s, x) => s + x, 0) / v.length).toFixed(3))]),
      );
    }
    results[dir][cls.name] = r;
    const f = (s: Stat) => `${s.mean.toFixed(3)} / ${s.worst.toFixed(3)} (${s.worstPair})`.padEnd(30);
    console.log(
      `${cls.name.padEnd(12)} ${String(word.length).padStart(5)}   ${f(r.word)}${f(r.sequence)}${f(r.pooled)}`,
    );
  }
  console.log(
    `count pairs, over the sequence: ${Object.entries(countPairs[dir] ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  model.dispose();
}
console.log(JSON.stringify({ classes: results, countPairs }));
