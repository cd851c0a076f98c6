/**
 * safetensors: round trip of every supported dtype, byte compatibility with Python's safetensors
 * (fixtures are the byte strings from huggingface/safetensors bindings/python/tests/test_simple.py),
 * strict state-dict loading and corrupt-file errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  loadSafetensors,
  nn,
  randn,
  SafetensorsError,
  saveSafetensors,
  tensor,
  tidy,
} from '../../src/torch/index.js';

const dir = mkdtempSync(join(tmpdir(), 't2i-st-'));

test('round trip keeps names, dtypes, shapes, values and metadata', () => {
  tidy(() => {
    const src = {
      'a.weight': randn([3, 4]),
      'b.half': randn([2, 5]).to('float16'),
      'c.bf16': randn([7]).to('bfloat16'),
      'd.ids': tensor([1, -2, 3_000_000_000], { dtype: 'int64' }),
      'e.scalar': tensor(3.5).reshape([]),
    };
    const path = join(dir, 'rt.safetensors');
    saveSafetensors(path, src, { format: 'pt', note: 'round trip' });
    const { tensors, metadata } = loadSafetensors(path);
    assert.deepEqual(metadata, { format: 'pt', note: 'round trip' });
    assert.deepEqual(Object.keys(tensors).sort(), Object.keys(src).sort());
    for (const [k, t] of Object.entries(src)) {
      const u = tensors[k]!;
      assert.equal(u.dtype, t.dtype, k);
      assert.deepEqual(u.shape, t.shape, k);
      assert.deepEqual(u.toArray(), t.toArray(), k);
    }
    // the header is padded so the data starts 8-byte aligned, as Python's writer does
    const bytes = readFileSync(path);
    assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0);
  });
});

// b"<\x00..." from test_simple.py::test_deserialization (written by Python's safetensors)
const PY_ZEROS = Buffer.concat([
  Buffer.from([0x3c, 0, 0, 0, 0, 0, 0, 0]),
  Buffer.from('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}'),
  Buffer.alloc(16),
]);
// test_simple.py::test_serialization after data[1, 1] = 1
const PY_ONE = Buffer.concat([
  PY_ZEROS.subarray(0, 68),
  Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]),
]);

test("files written by Python's safetensors load here", () => {
  const path = join(dir, 'py.safetensors');
  writeFileSync(path, PY_ONE);
  const { tensors } = loadSafetensors(path);
  assert.equal(tensors['test']!.dtype, 'int32');
  assert.deepEqual(tensors['test']!.shape, [2, 2]);
  assert.deepEqual(tensors['test']!.toArray(), [0, 0, 0, 1]);
  // with __metadata__ and space padding (test_simple.py's metadata fixture)
  const header =
    '{"__metadata__":{"framework":"pt"},"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}       ';
  const withMeta = Buffer.concat([
    Buffer.from([header.length, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from(header),
    Buffer.alloc(16),
  ]);
  writeFileSync(path, withMeta);
  const loaded = loadSafetensors(path);
  assert.deepEqual(loaded.metadata, { framework: 'pt' });
  assert.deepEqual(loaded.tensors['test1']!.toArray(), [0, 0, 0, 0]);
});

test("files written here have Python's layout byte for byte (up to header padding)", () => {
  const path = join(dir, 'ours.safetensors');
  saveSafetensors(path, {
    test: tensor(
      [
        [0, 0],
        [0, 1],
      ],
      { dtype: 'int32' },
    ),
  });
  const ours = readFileSync(path);
  const n = Number(ours.readBigUInt64LE(0));
  const header = ours.subarray(8, 8 + n).toString('utf8');
  assert.equal(header.trimEnd(), '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}');
  assert.deepEqual(ours.subarray(8 + n), PY_ONE.subarray(68));
});

test('strict loading names missing, unexpected and mis-shaped keys', () => {
  const m = new nn.Linear(3, 2);
  assert.throws(() => m.loadStateDict({ weight: randn([2, 3]) }), /missing keys: bias/);
  assert.throws(
    () => m.loadStateDict({ weight: randn([2, 3]), bias: randn([2]), extra: randn([1]) }),
    /unexpected keys: extra/,
  );
  assert.throws(
    () => m.loadStateDict({ weight: randn([3, 3]), bias: randn([2]) }),
    /weight \(expected \[2,3\], got \[3,3\]\)/,
  );
  const r = m.loadStateDict({ weight: randn([2, 3]) }, { strict: false });
  assert.deepEqual(r.missing, ['bias']);
  const w = randn([2, 3]);
  m.loadStateDict({ weight: w, bias: randn([2]) });
  assert.deepEqual(m.weight.toArray(), w.toArray());
});

test('corrupt safetensors files give clear errors', () => {
  const path = join(dir, 'bad.safetensors');
  writeFileSync(path, Buffer.from([1, 2, 3]));
  assert.throws(
    () => loadSafetensors(path),
    (e: Error) => e instanceof SafetensorsError && /shorter than the 8-byte header length/.test(e.message),
  );
  const hugeLen = Buffer.alloc(16);
  hugeLen.writeBigUInt64LE(1n << 40n);
  writeFileSync(path, hugeLen);
  assert.throws(() => loadSafetensors(path), /header length \d+ exceeds the file size/);
  writeFileSync(path, Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a":')]));
  assert.throws(() => loadSafetensors(path), /header is not JSON/);
  const bad = '{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}';
  writeFileSync(
    path,
    Buffer.concat([Buffer.from([bad.length, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(bad), Buffer.alloc(8)]),
  );
  assert.throws(() => loadSafetensors(path), /spans 8 bytes but shape \[4\] of F32 needs 16/);
  const beyond = '{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}';
  writeFileSync(
    path,
    Buffer.concat([Buffer.from([beyond.length, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(beyond), Buffer.alloc(8)]),
  );
  assert.throws(() => loadSafetensors(path), /beyond the data section/);
  const dtype = '{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}';
  writeFileSync(
    path,
    Buffer.concat([Buffer.from([dtype.length, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(dtype), Buffer.alloc(1)]),
  );
  assert.throws(() => loadSafetensors(path), /unsupported dtype "Q4"/);
});
