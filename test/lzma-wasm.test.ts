// The WebAssembly MicroLZMA encoder (assembly/lzma.ts, what every -zlzma build uses) against the
// TypeScript encoder it replaced (test/helpers/lzma-ts/, the oracle): the same consumed count and the
// same stream bytes for text, binary, zeros, random, short and mixed input, every -C the tests and
// benches use, the levels mkfs.erofs accepts, with and without the incompressible probe, through
// the encoder's own window and through input copied in on demand.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { MicroLzmaEncoder, lzmaDefaultDictSize } from '../src/compress/lzma-encoder.js';
import { TsMicroLzmaEncoder } from './helpers/lzma-ts/encoder.js';
import { microLzmaDecode } from '../src/compress/microlzma.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 16;
  };
}

/** Source-like text: words, numbers and indentation from a seeded generator. */
function text(seed: number, size: number): Buffer {
  const next = lcg(seed);
  const words = ['static', 'const', 'return', 'struct', 'erofs_inode', 'unsigned', 'int', 'if', '(', ')', '{', '}', ';', '->', 'blkaddr',
    'le32_to_cpu', 'nr', '=', '+', '0x', 'sizeof', 'goto', 'out', 'err'];
  let s = '';
  while (s.length < size) {
    s += '\t'.repeat(next() % 4);
    const n = 1 + (next() % 10);
    for (let i = 0; i < n; i++) s += (next() % 7 === 0 ? String(next() % 5000) : words[next() % words.length]) + ' ';
    s += '\n';
  }
  return Buffer.from(s.slice(0, size), 'latin1');
}

/** Machine-code-like bytes: records of small integers, repeated opcodes and relative offsets. */
function binary(seed: number, size: number): Buffer {
  const next = lcg(seed);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size;) {
    const k = next() % 6;
    if (k < 2 && i >= 64) {
      // copy of an earlier run (a match at some distance), with a byte changed now and then
      const d = 1 + (next() % Math.min(i, 30000));
      const n = Math.min(3 + (next() % 60), size - i);
      for (let j = 0; j < n; j++) b[i + j] = b[i + j - d] ^ (next() % 23 === 0 ? 1 : 0);
      i += n;
    } else if (k === 2) {
      b.writeUInt32LE((next() << 8) & 0xffffff, Math.min(i, size - 4));
      i += 4;
    } else {
      b[i++] = [0x48, 0x89, 0x8b, 0xe8, 0x00, 0xff, 0x0f, 0x83][next() % 8];
    }
  }
  return b;
}

function inputs(): [string, Buffer][] {
  const t = text(7, 60_000);
  const bin = binary(3, 60_000);
  const rnd = pseudoRandom('lzma-wasm', 40_000);
  const wasm = fs.readFileSync(new URL('../wasm/lz4.wasm', import.meta.url));
  return [
    ['text', t],
    ['binary', bin],
    ['wasm module', wasm],
    ['zeros', Buffer.alloc(200_000)],
    ['random', rnd],
    ['random then text', Buffer.concat([rnd.subarray(0, 9000), t.subarray(0, 50_000)])],
    ['text then random then text', Buffer.concat([t.subarray(0, 20_000), rnd.subarray(0, 20_000), t.subarray(0, 20_000)])],
    ['byte runs', Buffer.from(Array.from({ length: 60_000 }, (_, i) => ((i / 300) | 0) % 3 === 0 ? 0x41 : (i * 7) & 0xff))],
    ...[1, 2, 3, 4, 5, 6, 7, 15, 64, 300].map((n): [string, Buffer] => [`${n} bytes`, t.subarray(1000, 1000 + n)]),
  ];
}

/** Compress `src` to the end, one pcluster after another, with both encoders; assert each call equal. */
function both(w: MicroLzmaEncoder, o: TsMicroLzmaEncoder, src: Uint8Array, cap: number, probe: boolean, what: string, window = false): number {
  let off = 0;
  let calls = 0;
  const win = window ? w.window(src.length, cap) : null;
  if (win) win.set(src);
  while (off < src.length) {
    const a = win ? w.compress(win.subarray(off, src.length), src.length - off, cap, probe) : w.compress(src.subarray(off), src.length - off, cap, probe);
    const b = o.compress(src.subarray(off), src.length - off, cap, probe);
    assert.equal(a.consumed, b.consumed, `${what}: consumed at ${off}`);
    assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)), `${what}: stream at ${off} (${a.data.length} vs ${b.data.length} bytes)`);
    calls++;
    // a call that takes nothing, or whose stream gains nothing: the caller stores a block raw
    const step = a.consumed === 0 || a.data.length >= a.consumed ? Math.min(4096, src.length - off) : a.consumed;
    off += step;
  }
  return calls;
}

test('lzma wasm encoder: streams byte-identical to the TypeScript encoder it replaced (text, binary, zeros, random, short; -C 4096..1 MiB; probe on and off; window and copied input)', () => {
  const all = inputs();
  for (const cap of [4096, 16384, 65536, 1 << 20]) {
    const dict = lzmaDefaultDictSize(cap);
    const w = new MicroLzmaEncoder(6, dict);
    const o = new TsMicroLzmaEncoder(6, dict);
    for (const [name, src] of all) {
      if (cap === 1 << 20 && src.length < 60_000) continue; // (the same streams as at 64 KiB)
      for (const probe of [false, true]) {
        if (probe && cap === 4096) continue; // (the probe acts only above 4 KiB)
        both(w, o, src, cap, probe, `${name} -C${cap}${probe ? ' probe' : ''}`, name === 'text' || name === 'zeros');
      }
    }
  }
});

test('lzma wasm encoder: every level mkfs.erofs accepts (0..9, 100..109) makes the TypeScript encoder\'s streams', () => {
  const src = Buffer.concat([text(11, 12_000), binary(5, 12_000)]);
  for (const level of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 101, 103, 105, 106, 109]) {
    for (const cap of [4096, 65536]) {
      const dict = lzmaDefaultDictSize(cap);
      both(new MicroLzmaEncoder(level, dict), new TsMicroLzmaEncoder(level, dict), src, cap, false, `level ${level} -C${cap}`);
    }
  }
});

test('lzma wasm encoder: capacities not a block multiple, tiny capacities and a longer one after a shorter (the memory is laid out again) match the oracle and decode back', () => {
  const src = text(23, 40_000);
  const dict = lzmaDefaultDictSize(65536);
  const w = new MicroLzmaEncoder(6, dict);
  const o = new TsMicroLzmaEncoder(6, dict);
  for (const cap of [0, 5, 6, 7, 20, 100, 1000, 4095, 12_345, 70_000, 200_000]) {
    const a = w.compress(src, src.length, cap);
    const b = o.compress(src, src.length, cap);
    assert.equal(a.consumed, b.consumed, `cap ${cap}`);
    assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)), `cap ${cap}`);
    assert.ok(a.data.length <= cap, `cap ${cap}`);
    if (a.consumed > 0) assert.ok(Buffer.from(microLzmaDecode(a.data, a.consumed, dict)).equals(src.subarray(0, a.consumed)), `cap ${cap}`);
  }
  // Input in the window, then a capacity above the window's: the memory is laid out again and the
  // input, taken out of the old window first, still compresses to the oracle's stream.
  const w2 = new MicroLzmaEncoder(6, dict);
  const win = w2.window(src.length, 4096);
  win.set(src);
  const a = w2.compress(win, src.length, 65536);
  const b = o.compress(src, src.length, 65536);
  assert.equal(a.consumed, b.consumed);
  assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)));
});
