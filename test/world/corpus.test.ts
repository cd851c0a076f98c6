import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { BASE_SIZE } from '../../src/world/backgrounds.js';
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
import { LOOSE_LAYOUT, MIN_GAP } from '../../src/world/render.js';
import { Rng } from '../../src/world/rng.js';
import { SPRITES } from '../../src/world/sprites.js';
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

  it('the default corpus is the one the shipped checkpoints were trained on (golden hash)', () => {
    // sha256 of the first 64 items' captions and float32 pixels, taken before the layout options existed
    const h = createHash('sha256');
    for (const it of corpusBatch(DEFAULT_CORPUS, 0, 64)) {
      h.update(it.caption);
      h.update(Buffer.from(new Float32Array(it.image.data).buffer));
    }
    assert.equal(h.digest('hex'), 'b3bc7b6f12622907c968b6f495fc7323e5b2aa0514166ffb06df352500019553');
    const none = corpusBatch({ ...DEFAULT_CORPUS, looseLayoutProb: 0 }, 0, 8);
    assert.deepEqual(
      none.map((i) => i.caption),
      corpusBatch(DEFAULT_CORPUS, 0, 8).map((i) => i.caption),
    );
  });

  it('looseLayoutProb lets objects touch and reach past the frame, never overlap, and keeps counts', () => {
    const n = 400;
    const tight = corpusBatch(DEFAULT_CORPUS, 0, n);
    const loose = corpusBatch({ ...DEFAULT_CORPUS, looseLayoutProb: 1 }, 0, n);
    let touching = 0;
    let outside = 0;
    const gapOf = (
      a: { x: number; y: number; object: string },
      b: { x: number; y: number; object: string },
    ) => {
      const sa = SPRITES[a.object as keyof typeof SPRITES];
      const sb = SPRITES[b.object as keyof typeof SPRITES];
      return Math.max(
        b.x - (a.x + sa.width),
        a.x - (b.x + sb.width),
        b.y - (a.y + sa.height),
        a.y - (b.y + sb.height),
      );
    };
    const count = (items: typeof loose, k: number) =>
      items.filter((i) => i.scene.objects.length === k).length;
    for (const item of loose) {
      const os = item.scene.objects;
      for (let i = 0; i < os.length; i++) {
        const s = SPRITES[os[i]!.object];
        const { x, y } = os[i]!;
        const over = LOOSE_LAYOUT.overhang;
        assert.ok(
          x >= -over && x + s.width <= BASE_SIZE + over && y >= -over && y + s.height <= BASE_SIZE + over,
        );
        if (x < 0 || y < 0 || x + s.width > BASE_SIZE || y + s.height > BASE_SIZE) outside++;
        for (let j = 0; j < i; j++) {
          const g = gapOf(os[i]!, os[j]!);
          assert.ok(g >= 0, 'boxes never overlap');
          if (g < MIN_GAP) touching++;
        }
      }
      for (const w of words(item.caption)) assert.ok(KNOWN.has(w), `"${w}" in "${item.caption}"`);
    }
    for (const item of tight) {
      const os = item.scene.objects;
      for (let i = 0; i < os.length; i++)
        for (let j = 0; j < i; j++) assert.ok(gapOf(os[i]!, os[j]!) >= MIN_GAP);
    }
    assert.ok(touching > 50, `${touching} pairs closer than MIN_GAP`);
    assert.ok(outside > 50, `${outside} objects past the frame`);
    // the count distribution is drawn the same way: within sampling noise of the tight corpus
    for (let k = 1; k <= 6; k++)
      assert.ok(Math.abs(count(loose, k) - count(tight, k)) <= 0.06 * n, `count ${k}`);
  });
});
