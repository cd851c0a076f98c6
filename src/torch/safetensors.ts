/**
 * safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N,
 * N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the
 * raw little-endian tensor bytes. Files written here load in Python's safetensors and torch, and
 * theirs load here. Tensors are read one at a time, so a multi-GB file never sits in memory whole.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { type Device, type DType, fromBytes, type Tensor, toBytes } from './tensor.js';

const TO_ST: Partial<Record<DType, string>> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_ST: Record<string, { dtype: DType; bytes: number }> = {
  F32: { dtype: 'float32', bytes: 4 },
  F16: { dtype: 'float16', bytes: 2 },
  BF16: { dtype: 'bfloat16', bytes: 2 },
  F64: { dtype: 'float64', bytes: 8 },
  I64: { dtype: 'int64', bytes: 8 },
  I32: { dtype: 'int32', bytes: 4 },
  U8: { dtype: 'uint8', bytes: 1 },
  BOOL: { dtype: 'bool', bytes: 1 },
};

export class SafetensorsError extends Error {
  constructor(path: string, message: string) {
    super(`${path}: not a valid safetensors file: ${message}`);
    this.name = 'SafetensorsError';
  }
}

export interface TensorEntry {
  dtype: DType;
  shape: number[];
  /** byte range within the data section */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Record<string, TensorEntry>;
  metadata: Record<string, string>;
  /** file offset where the data section starts */
  dataStart: number;
}

/** Reads and validates the header only. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    return parseHeader(path, fd);
  } finally {
    closeSync(fd);
  }
}

function parseHeader(path: string, fd: number): SafetensorsHeader {
  const size = fstatSync(fd).size;
  if (size < 8)
    throw new SafetensorsError(path, `file is ${size} bytes, shorter than the 8-byte header length`);
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const n = lenBuf.readBigUInt64LE(0);
  if (n > BigInt(size - 8) || n > 100_000_000n)
    throw new SafetensorsError(path, `header length ${n} exceeds the file size ${size}`);
  const headerBuf = Buffer.alloc(Number(n));
  readSync(fd, headerBuf, 0, Number(n), 8);
  let json: unknown;
  try {
    json = JSON.parse(headerBuf.toString('utf8'));
  } catch (e) {
    throw new SafetensorsError(path, `header is not JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new SafetensorsError(path, 'header is not a JSON object');
  const dataStart = 8 + Number(n);
  const dataLen = size - dataStart;
  const tensors: Record<string, TensorEntry> = {};
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const st = typeof e.dtype === 'string' ? FROM_ST[e.dtype] : undefined;
    if (!st)
      throw new SafetensorsError(path, `tensor "${name}" has unsupported dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError(path, `tensor "${name}" has a bad shape ${JSON.stringify(e.shape)}`);
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !off.every((d) => Number.isInteger(d) && d >= 0) ||
      off[0] > off[1]
    ) {
      throw new SafetensorsError(path, `tensor "${name}" has bad data_offsets ${JSON.stringify(off)}`);
    }
    const shape = e.shape as number[];
    const need = shape.reduce((a, b) => a * b, 1) * st.bytes;
    if (off[1] - off[0] !== need) {
      throw new SafetensorsError(
        path,
        `tensor "${name}" spans ${off[1] - off[0]} bytes but shape [${shape}] of ${e.dtype} needs ${need}`,
      );
    }
    if (off[1] > dataLen)
      throw new SafetensorsError(
        path,
        `tensor "${name}" ends at byte ${off[1]} beyond the data section (${dataLen} bytes)`,
      );
    tensors[name] = { dtype: st.dtype, shape, begin: off[0], end: off[1] };
  }
  return { tensors, metadata, dataStart };
}

/** Loads every tensor (or those whose names pass `filter`) of a safetensors file. */
export function loadSafetensors(
  path: string,
  o: { device?: Device; dtype?: DType; filter?: (name: string) => boolean } = {},
): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const fd = openSync(path, 'r');
  try {
    const header = parseHeader(path, fd);
    const tensors: Record<string, Tensor> = {};
    for (const [name, e] of Object.entries(header.tensors)) {
      if (o.filter && !o.filter(name)) continue;
      const bytes = Buffer.alloc(e.end - e.begin);
      if (bytes.length) readSync(fd, bytes, 0, bytes.length, header.dataStart + e.begin);
      let t = fromBytes(bytes, e.dtype, e.shape, { device: o.device });
      if (o.dtype && o.dtype !== e.dtype && (e.dtype.startsWith('float') || e.dtype === 'bfloat16')) {
        const c = t.to({ dtype: o.dtype });
        t.dispose();
        t = c;
      }
      tensors[name] = t;
    }
    return { tensors, metadata: header.metadata };
  } finally {
    closeSync(fd);
  }
}

/** Writes tensors (any device; stored as their dtype) and string metadata. Keys are sorted, as Python's writer does. */
export function saveSafetensors(
  path: string,
  tensors: Record<string, Tensor>,
  metadata: Record<string, string> = {},
): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header['__metadata__'] = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const st = TO_ST[t.dtype];
    if (!st) throw new Error(`saveSafetensors: dtype ${t.dtype} of "${name}" has no safetensors code`);
    const bytes = toBytes(t);
    header[name] = { dtype: st, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((Buffer.byteLength(json) + 8) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, headerBytes);
    for (const b of blobs) writeSync(fd, b);
  } finally {
    closeSync(fd);
  }
}
