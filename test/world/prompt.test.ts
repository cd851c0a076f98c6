import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatPrompt,
  type Prompt,
  PromptError,
  parsePrompt,
  promptCategory,
} from '../../src/world/prompt.js';
import { BACKGROUNDS, COLORS, COUNTS, OBJECTS } from '../../src/world/vocab.js';

/** Paper Table 1, as printed (the table leaves out the final periods). */
const TABLE_1 = [
  'One dog',
  'Two dogs',
  'Three dogs',
  'Four dogs',
  'Five dogs',
  'A green colored dog',
  'A red colored dog',
  'A dog in the forest',
  'A dog on the moon',
  'Two blue dogs in the forest',
  'Five white dogs in the city',
];

/** Paper Table 4, verbatim: the 56 seen and 54 unseen prompts it prints. */
const TABLE_4 =
  `A red colored dog.; A red colored donut.; A red colored cake.; A red colored vase.; A green colored dog.; A green colored donut.; A green colored cake.; A green colored vase.; A pink colored dog.; A pink colored donut.; A pink colored cake.; A pink colored vase.; A blue colored dog.; A blue colored donut.; A blue colored cake.; A blue colored vase.; A black colored apple.; A green colored apple.; A pink colored apple.; A blue colored apple.; A dog on the moon.; A donut on the moon.; A cake on the moon.; A vase on the moon.; An apple on the moon.; A dog in the sea.; A donut in the sea.; A cake in the sea.; A vase in the sea.; An apple in the sea.; A dog in the city.; A donut in the city.; A cake in the city.; A vase in the city.; An apple in the city.; A dog in the forest.; A donut in the forest.; A cake in the forest.; A vase in the forest.; An apple in the forest.; Two dogs.; Two donuts.; Two cakes.; Two vases.; Two apples.; Three dogs.; Three donuts.; Three cakes.; Three vases.; Three apples.; Four dogs.; Four donuts.; Four cakes.; Four vases.; Four apples.; Five dogs.; A red colored bear.; A red colored wolf.; A red colored tiger.; A red colored rabbit.; A green colored bear.; A green colored wolf.; A green colored tiger.; A green colored rabbit.; A pink colored bear.; A pink colored wolf.; A pink colored tiger.; A pink colored rabbit.; A blue colored bear.; A blue colored wolf.; A blue colored tiger.; A blue colored rabbit.; A black colored rose.; A green colored rose.; A pink colored rose.; A blue colored rose.; A bear on the moon.; A wolf on the moon.; A tiger on the moon.; A rabbit on the moon.; A rose on the moon.; A bear in the sea.; A wolf in the sea.; A tiger in the sea.; A rabbit in the sea.; A rose in the sea.; A bear in the city.; A wolf in the city.; A tiger in the city.; A rabbit in the city.; A rose in the city.; A bear in the forest.; A wolf in the forest.; A tiger in the forest.; A rabbit in the forest.; A rose in the forest.; Two brown bears.; Two wolves.; Two tigers.; Two rabbits.; Two red roses.; Three brown bears.; Three wolves.; Three tigers.; Three rabbits.; Three red roses.; Four brown bears.; Four wolves.; Four tigers.; Four rabbits.`
    .split('; ')
    .map((s) => s.trim());

function rejects(text: string, word: string | RegExp): void {
  assert.throws(
    () => parsePrompt(text),
    (e: unknown) => {
      assert.ok(e instanceof PromptError, `expected a PromptError for ${JSON.stringify(text)}`);
      if (typeof word === 'string') {
        assert.equal(e.word, word);
        assert.match(e.message, new RegExp(`"${word}"`));
      } else assert.match(e.message, word);
      return true;
    },
  );
}

describe('prompt grammar', () => {
  it('parses every prompt of Table 1 and formats it back (with the final period)', () => {
    for (const text of TABLE_1) assert.equal(formatPrompt(parsePrompt(text)), `${text}.`);
    assert.deepEqual(parsePrompt('Two blue dogs in the forest.'), {
      object: 'dog',
      count: 2,
      color: 'blue',
      background: 'forest',
    });
    assert.deepEqual(parsePrompt('A green colored dog.'), { object: 'dog', color: 'green' });
    assert.deepEqual(parsePrompt('One dog.'), { object: 'dog', count: 1 });
  });

  it('parses every prompt of Table 4 and formats it back exactly', () => {
    assert.equal(TABLE_4.length, 110);
    for (const text of TABLE_4) assert.equal(formatPrompt(parsePrompt(text)), text);
    assert.deepEqual(parsePrompt('Two brown bears.'), { object: 'bear', count: 2, color: 'brown' });
    assert.deepEqual(parsePrompt('An apple on the moon.'), { object: 'apple', background: 'moon' });
  });

  it('writes plurals and places correctly', () => {
    assert.equal(formatPrompt({ object: 'wolf', count: 3 }), 'Three wolves.');
    assert.equal(formatPrompt({ object: 'box', count: 2 }), 'Two boxes.');
    assert.equal(formatPrompt({ object: 'dog', background: 'moon' }), 'A dog on the moon.');
    assert.equal(formatPrompt({ object: 'dog', background: 'sea' }), 'A dog in the sea.');
    assert.equal(formatPrompt({ object: 'cup', background: 'table' }), 'A cup on the table.');
    assert.equal(
      formatPrompt({ object: 'car', count: 4, background: 'San Francisco' }),
      'Four cars in San Francisco.',
    );
    assert.equal(formatPrompt({ object: 'airplane' }), 'An airplane.');
    assert.equal(formatPrompt({ object: 'orange', color: 'red' }), 'A red colored orange.');
  });

  it('round-trips every structured prompt of the grammar (15,750)', () => {
    let n = 0;
    for (const object of OBJECTS)
      for (const count of [undefined, ...COUNTS])
        for (const color of [undefined, ...COLORS])
          for (const background of [undefined, ...BACKGROUNDS]) {
            const p: Prompt = { object };
            if (count !== undefined) p.count = count;
            if (color !== undefined) p.color = color;
            if (background !== undefined) p.background = background;
            const text = formatPrompt(p);
            assert.deepEqual(parsePrompt(text), p, text);
            assert.deepEqual(parsePrompt(text.toLowerCase()), p, 'parsing is case-insensitive');
            n++;
          }
    assert.equal(n, 25 * 7 * 10 * 9);
  });

  it('rejects text outside the grammar, naming the word', () => {
    rejects('Two unicorns.', 'unicorns');
    rejects('A dog in the jungle.', 'jungle');
    rejects('Seven dogs.', 'Seven');
    rejects('Two orange dogs.', 'orange'); // "orange" is a noun, not a color
    rejects('Two dog.', 'dog');
    rejects('A wolves.', 'wolves');
    rejects('A apple.', 'A');
    rejects('A dog in the moon.', /did you mean "on the moon"/);
    assert.throws(() => parsePrompt(''), PromptError);
    assert.throws(() => parsePrompt('Two blue.'), PromptError);
  });

  it('assigns Table 1 categories', () => {
    assert.equal(promptCategory(parsePrompt('Two dogs.')), 'count');
    assert.equal(promptCategory(parsePrompt('A green colored dog.')), 'color');
    assert.equal(promptCategory(parsePrompt('A dog in the forest.')), 'background');
    assert.equal(promptCategory(parsePrompt('Two blue dogs in the forest.')), 'combination');
    assert.equal(promptCategory(parsePrompt('A dog.')), null);
  });
});
