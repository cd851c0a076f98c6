import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CAPTION_WORDS,
  type CaptionNoise,
  corpusBatch,
  corpusItem,
  DEFAULT_CORPUS,
  DEFAULT_NOISE,
  writeCaption,
} from '../../src/world/corpus.js';
import { judgeImage } from '../../src/world/judge.js';
import { Rng } from '../../src/world/rng.js';
import {
  BACKGROUND_PHRASES,
  BACKGROUNDS,
  COLORS,
  COUNT_WORDS,
  OBJECTS,
  plural,
} from '../../src/world/vocab.js';

const NUMBER_WORDS = Object.values(COUNT_WORDS).map((w) => w.toLowerCase());
const KNOWN = new Set<string>([
  ...CAPTION_WORDS,
  ...NUMBER_WORDS,
  ...COLORS,
  ...OBJECTS,
  ...OBJECTS.map(plural),
  ...BACKGROUNDS.flatMap((b) => BACKGROUND_PHRASES[b].toLowerCase().split(' ')),
]);

function words(caption: string): string[] {
  return caption.toLowerCase().replace(/\.$/, '').split(' ').filter(Boolean);
}

const items = corpusBatch(DEFAULT_CORPUS, 0, 600);

describe('pretraining corpus', () => {
  it('is a pure function of (config, index)', () => {
    const a = corpusItem(DEFAULT_CORPUS, 123);
    const b = corpusItem(DEFAULT_CORPUS, 123);
    assert.equal(a.caption, b.caption);
    assert.deepEqual(a.image.data, b.image.data);
    assert.deepEqual(items[5]!.scene, corpusItem(DEFAULT_CORPUS, 5).scene);
    const other = corpusBatch({ ...DEFAULT_CORPUS, seed: 1 }, 0, 20);
    assert.ok(
      other.some((o, i) => JSON.stringify(o.scene) !== JSON.stringify(items[i]!.scene)),
      'another seed, another corpus',
    );
  });

  it('writes captions from the world vocabulary only, always naming the object', () => {
    for (const it of items) {
      for (const w of words(it.caption)) assert.ok(KNOWN.has(w), `"${w}" in "${it.caption}"`);
      const object = it.scene.objects[0]!.object;
      assert.ok(
        words(it.caption).some((w) => w === object || w === plural(object)),
        it.caption,
      );
    }
  });

  it('draws counts skewed to small numbers, natural colors and plain backgrounds often', () => {
    const share = (f: (i: (typeof items)[number]) => boolean) => items.filter(f).length / items.length;
    assert.ok(share((i) => i.scene.objects.length === 1) > 0.3);
    assert.ok(share((i) => i.scene.objects.length === 6) < 0.12);
    assert.ok(share((i) => i.scene.scenery === 'plain') > 0.2);
    assert.ok(share((i) => i.scene.objects.length === 1) > share((i) => i.scene.objects.length === 3));
  });

  it('lets the knobs turn count, color and background mentions off and on', () => {
    const rng = new Rng(1);
    const silent: CaptionNoise = {
      ...DEFAULT_NOISE,
      countMentionProb: 0,
      colorMentionProb: 0,
      naturalColorMentionProb: 0,
      backgroundMentionProb: 0,
    };
    const exact: CaptionNoise = {
      ...DEFAULT_NOISE,
      countMentionProb: 1,
      countOffByOneProb: 0,
      colorMentionProb: 1,
      naturalColorMentionProb: 1,
      colorWrongProb: 0,
      backgroundMentionProb: 1,
      backgroundWrongProb: 0,
    };
    for (const it of items.slice(0, 300)) {
      const w = words(writeCaption(it.scene, silent, rng));
      assert.ok(
        !w.some((x) => NUMBER_WORDS.includes(x) || (COLORS as readonly string[]).includes(x)),
        w.join(' '),
      );
      assert.ok(!w.includes('the') && !w.includes('francisco'), w.join(' '));
      const e = writeCaption(it.scene, exact, rng).toLowerCase();
      const n = it.scene.objects.length;
      if (n > 1) assert.ok(e.includes(`${NUMBER_WORDS[n - 1]} `), e);
      const paint = it.scene.objects[0]!.paint;
      if (paint !== 'orange') assert.ok(e.includes(paint), e);
      if (it.scene.scenery !== 'plain')
        assert.ok(e.includes(BACKGROUND_PHRASES[it.scene.scenery].toLowerCase()), e);
    }
  });

  it('renders images the judge reads back (the corpus shows what its scenes say)', () => {
    let right = 0;
    for (const it of items.slice(0, 200)) {
      const j = judgeImage(it.image);
      right += +(
        j.count === it.scene.objects.length &&
        j.background === it.scene.scenery &&
        j.objects.every((o) => o.object === it.scene.objects[0]!.object)
      );
    }
    assert.ok(right >= 198, `${right} of 200`);
  });

  it('degradeProb renders that share of images degraded, leaving captions and scenes alone', () => {
    const clean = corpusBatch(DEFAULT_CORPUS, 0, 40);
    const none = corpusBatch({ ...DEFAULT_CORPUS, degradeProb: 0 }, 0, 40);
    assert.deepEqual(
      none.map((i) => Array.from(i.image.data)),
      clean.map((i) => Array.from(i.image.data)),
    );
    const all = corpusBatch({ ...DEFAULT_CORPUS, degradeProb: 1 }, 0, 40);
    const half = corpusBatch({ ...DEFAULT_CORPUS, degradeProb: 0.5 }, 0, 40);
    const same = (a: Float32Array | number[], b: Float32Array | number[]) => a.every((v, k) => v === b[k]);
    all.forEach((item, i) => {
      assert.equal(item.caption, clean[i]!.caption);
      assert.deepEqual(item.scene, clean[i]!.scene);
      assert.ok(!same(item.image.data, clean[i]!.image.data), `item ${i} is degraded`);
    });
    const degraded = half.filter((item, i) => !same(item.image.data, clean[i]!.image.data)).length;
    assert.ok(degraded >= 10 && degraded <= 30, `${degraded} of 40 degraded at 0.5`);
    assert.deepEqual(corpusItem({ ...DEFAULT_CORPUS, degradeProb: 1 }, 7).image.data, all[7]!.image.data);
  });
});
