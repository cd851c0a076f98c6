import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPng } from '../../src/world/png.js';

const ENTRY = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));

/** Runs the CLI from source in a child process (`node --import tsx cli-entry.ts ...`). */
function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', ENTRY, ...argv], (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

function oneLineError(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

describe('t2i-align world', () => {
  const dir = mkdtempSync(join(tmpdir(), 'world-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const x = join(dir, 'x.png');

  it('renders a prompt and judges it good; a wrong count is bad', async () => {
    assert.equal(
      (await cli('world', 'render', '--prompt', 'Two blue dogs in the forest.', '--seed', '7', '--out', x))
        .code,
      0,
    );
    assert.equal(readPng(x).width, 32);
    const good = await cli('world', 'judge', '--prompt', 'Two blue dogs in the forest.', '--image', x);
    assert.equal(good.code, 0);
    assert.match(good.stdout, /^good: 2 object\(s\) on forest: blue dog, blue dog/);
    const bad = await cli(
      'world',
      'judge',
      '--prompt',
      'Three blue dogs in the forest.',
      '--image',
      x,
      '--json',
    );
    const j = JSON.parse(bad.stdout);
    assert.equal(j.verdict, 'bad');
    assert.deepEqual(j.failed, ['count']);
    assert.equal(j.judgement.count, 2);
    const big = join(dir, 'big.png');
    assert.equal((await cli('world', 'render', '--prompt', 'A dog.', '--out', big, '--size', '64')).code, 0);
    assert.equal((await cli('world', 'judge', '--prompt', 'A dog.', '--image', big, '--size', '64')).code, 0);
  });

  it('fails in one line with exit 2 on bad input', async () => {
    oneLineError(
      await cli('world', 'judge', '--prompt', 'Two unicorns.', '--image', x),
      /unknown word "unicorns"/,
    );
    oneLineError(await cli('world', 'render', '--prompt', 'A dog in the jungle.', '--out', x), /"jungle"/);
    oneLineError(
      await cli('world', 'judge', '--prompt', 'A dog.', '--image', join(dir, 'missing.png')),
      /no such file/,
    );
    writeFileSync(join(dir, 'text.png'), 'hello');
    oneLineError(
      await cli('world', 'judge', '--prompt', 'A dog.', '--image', join(dir, 'text.png')),
      /not a PNG/,
    );
    oneLineError(
      await cli('world', 'judge', '--prompt', 'A dog.', '--image', join(dir, 'big.png')),
      /is 64x64, expected 32x32/,
    );
    oneLineError(await cli('world', 'prompts', '--preset', 'huge'), /unknown preset "huge"/);
    oneLineError(
      await cli('world', 'frobnicate'),
      /unknown world subcommand "frobnicate" \(expected render, judge, prompts or grid\)/,
    );
    oneLineError(
      await cli('world', 'render', '--prompt', 'A dog.', '--out', x, '--seed', 'abc'),
      /--seed must be an integer/,
    );
  });

  it('judges a JSONL manifest of many images in one process', async () => {
    const files = ['a.png', 'b.png', 'c.png'];
    const prompts = ['Two red cats.', 'A cup on the table.', 'Five green trees in the field.'];
    for (let i = 0; i < 3; i++)
      await cli(
        'world',
        'render',
        '--prompt',
        prompts[i]!,
        '--seed',
        String(i),
        '--out',
        join(dir, files[i]!),
      );
    const manifest = join(dir, 'images.jsonl');
    writeFileSync(
      manifest,
      [
        JSON.stringify({ prompt: prompts[0], image: 'a.png' }),
        JSON.stringify({ prompt: 'Three red cats.', image: 'a.png' }),
        JSON.stringify({ prompt: prompts[1], file: 'b.png' }),
        JSON.stringify({ prompt: prompts[2], image: join(dir, 'c.png') }),
      ].join('\n'),
    );
    const r = await cli('world', 'judge', '--manifest', manifest);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.verdict),
      ['good', 'bad', 'good', 'good'],
    );
    assert.deepEqual(lines[1].failed, ['count']);
    assert.match(r.stderr, /judged 4 images: 3 good, 1 bad, 0 unsure/);
    writeFileSync(manifest, `${JSON.stringify({ prompt: 'A dog.', image: 'a.png' })}\n{oops`);
    oneLineError(await cli('world', 'judge', '--manifest', manifest), /images\.jsonl:2: not valid JSON/);
  });

  it('writes the prompt sets and the docs grids', async () => {
    const fb = join(dir, 'feedback.jsonl');
    assert.equal((await cli('world', 'prompts', '--preset', 'paper', '--out', fb)).code, 0);
    const rows = readFileSync(fb, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, 2734);
    assert.equal(
      rows.reduce((s, r) => s + r.images, 0),
      27528,
    );
    const ev = await cli('world', 'prompts', '--eval');
    const evalRows = ev.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(evalRows.length, 120);
    assert.equal(evalRows[119].text, 'Five red roses.');
    const grid = join(dir, 'grid.png');
    assert.equal((await cli('world', 'grid', '--out', grid, '--scale', '2')).code, 0);
    const g = readPng(grid);
    assert.equal(g.width, 9 * (64 + 2) + 2);
    assert.equal(g.height, 9 * (64 + 2) + 2);
  });
});
