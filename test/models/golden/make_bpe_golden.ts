/**
 * Writes the BPE tokenizer's golden inputs: a small vocabulary learned by `trainBpe` (bpe_tiny/vocab.json
 * and merges.txt) and the test strings (bpe_strings.json). Then `python3 bpe_ref.py` (an independent
 * reference of CLIP's simple_tokenizer, needs the `regex` module) writes bpe_tiny_ids.json, which
 * test/models/tokenizer.test.ts compares with ClipBpeTokenizer.
 *   npx tsx test/models/golden/make_bpe_golden.ts && python3 test/models/golden/bpe_ref.py
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatMerges, trainBpe } from '../../../src/models/bpe_tokenizer.js';
import { corpusBatch, DEFAULT_CORPUS } from '../../../src/world/corpus.js';

const here = join('test', 'models', 'golden');
const english = [
  'A photograph of an astronaut riding a horse on the moon.',
  'Two dogs playing in the park, with a red ball!',
  "It's a beautiful day; they'll go outside and we've seen it.",
  'The quick brown fox jumps over the lazy dog.',
  'A painting of a city at night, in the style of Van Gogh.',
  'Three cats sitting on a table next to a vase of flowers.',
  'A café in Paris, naïve art, Größe 42, 東京タワー at dusk 🎉',
];
const captions = corpusBatch({ ...DEFAULT_CORPUS, size: 8 }, 0, 400).map((i) => i.caption);
const { vocab, merges } = trainBpe([...english, ...captions], 300);
writeFileSync(join(here, 'bpe_tiny', 'vocab.json'), `${JSON.stringify(vocab)}\n`);
writeFileSync(join(here, 'bpe_tiny', 'merges.txt'), formatMerges(merges));

const base = [
  '',
  'a',
  'A',
  'Two dogs.',
  'two   dogs .',
  '  leading and trailing  ',
  'Hello, world!!',
  "it's they're we've I'm you'll he'd she's",
  "IT'S SHOUTING",
  'can`t (parentheses) [brackets] {braces}',
  'e-mail: someone@example.com; url https://x.y/z?q=1&r=2',
  '123 4567 3.14 1e-5 -42 +7',
  '² ³ ½ ¼ ٣ ൬ Ⅻ',
  'café naïve résumé Größe',
  'İstanbul ǅ ß ﬁ ﬂ',
  '東京タワー 北京 서울',
  'Привет мир',
  'مرحبا بالعالم',
  '😀🎉👍🏽 emoji',
  'tab\tseparated\nnew line\r\nwindows',
  'ideographic\u3000space and nbsp\u00a0here',
  'file\x1cseparator and \x85 next line',
  '\x1cstarts with a separator\x1f',
  '\ufeffbyte order mark \ufeff inside',
  '<|startoftext|>inside<|endoftext|>',
  'A photograph of an astronaut riding a horse on the moon.',
  '!!!???...---',
  "'''quoted'''",
  'mixedCASE WoRdS',
  'a'.repeat(100),
  Array.from({ length: 90 }, (_, i) => `word${i}`).join(' '),
  'Two dogs. '.repeat(40),
];
const objects = ['dog', 'cat', 'horse', 'vase', 'apple', 'rose', 'bicycle', 'tiger'];
const counts = ['One', 'Two', 'Three', 'Four', 'Five', 'Six', '7', '12'];
const extras = ['in the forest', 'on the moon', 'in San Francisco', ', high quality', '!', ' (detailed)'];
const generated: string[] = [];
for (let i = 0; generated.length < 190; i++) {
  const o = objects[i % objects.length]!;
  const c = counts[(i * 3) % counts.length]!;
  const e = extras[(i * 5) % extras.length]!;
  generated.push(
    `${c} ${o}s ${e}`,
    i % 2 ? `A ${['red', 'Green', 'BLUE'][i % 3]} colored ${o}.` : `${o}${i}`,
  );
}
const strings = [...base, ...captions.slice(0, 30), ...generated.slice(0, 190)];
writeFileSync(join(here, 'bpe_strings.json'), `${JSON.stringify(strings, null, 0)}\n`);
console.log(`${Object.keys(vocab).length} tokens, ${merges.length} merges, ${strings.length} strings`);
