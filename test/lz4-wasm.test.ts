// The reader's WebAssembly LZ4 decoder (src/compress/lz4-wasm.ts) must accept exactly the blocks the
// strict TypeScript decoder accepts (the kernel's rules: test/lz4.test.ts) and give the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lz4CompressDestSize, lz4DecompressStrict, Lz4FormatError, Lz4Scratch } from '../src/compress/lz4.js';
import { lz4DecodeTransient } from '../src/compress/lz4-wasm.js';
import { lz4Decompress } from '../src/compress/lz4-decode.js';
import { mulberry32 } from './helpers/noise.js';

/** A seeded generator of floats in [0, 1). */
const unit = (seed: number): (() => number) => { const r = mulberry32(seed); return () => r() / 2 ** 32; };

type Outcome = { ok: true; bytes: Buffer } | { ok: false; reason: string };

function outcome(f: () => Uint8Array): Outcome {
  try {
    return { ok: true, bytes: Buffer.from(f()) };
  } catch (e) {
    // anything but a format error (the "internal error" of a disagreement) fails the test
    if (!(e instanceof Lz4FormatError)) throw e;
    return { ok: false, reason: e.reason };
  }
}

function agree(block: Uint8Array, outLen: number): boolean {
  const ts = outcome(() => lz4DecompressStrict(block, outLen));
  const wasm = outcome(() => lz4DecodeTransient(block, outLen));
  assert.deepEqual(wasm, ts, `block of ${block.length} bytes, outLen ${outLen}`);
  return ts.ok;
}

/** Inputs that exercise every copy path: literal runs, offsets 1..7 (overlapping), 8+, long matches. */
function sample(rand: () => number, n: number): Uint8Array {
  const a = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const kind = Math.floor(rand() * 5);
    const len = Math.min(n - i, 1 + Math.floor(rand() * (kind === 4 ? 400 : 40)));
    if (kind === 0 || i === 0) for (let k = 0; k < len; k++) a[i + k] = Math.floor(rand() * 256);
    else if (kind === 1) a.fill(a[i - 1], i, i + len);
    else {
      const off = kind === 2 ? 1 + Math.floor(rand() * Math.min(7, i)) : 1 + Math.floor(rand() * Math.min(i, 70000));
      for (let k = 0; k < len; k++) a[i + k] = a[i + k - off];
    }
    i += len;
  }
  return a;
}

test('WebAssembly LZ4 decoder: same bytes as the strict decoder on valid blocks, and the same verdict on mutated ones', () => {
  const rand = unit(16);
  const scratch = new Lz4Scratch();
  let valid = 0;
  let rejected = 0;
  for (let round = 0; round < 60; round++) {
    const src = sample(rand, 1000 + Math.floor(rand() * 200000));
    const dst = new Uint8Array([4096, 16384, 65536][round % 3]);
    const r = lz4CompressDestSize(src, src.length, dst, [0, 4, 12][round % 3], scratch);
    const block = dst.slice(0, r.written);
    assert.ok(agree(block, r.consumed));
    assert.ok(Buffer.from(lz4DecodeTransient(block, r.consumed)).equals(Buffer.from(src.subarray(0, r.consumed))));
    valid++;
    for (let m = 0; m < 150; m++) {
      const bad = Uint8Array.from(block);
      let outLen = r.consumed;
      const what = m % 5;
      if (what === 0) bad[Math.floor(rand() * bad.length)] ^= 1 << Math.floor(rand() * 8);
      else if (what === 1) bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
      else if (what === 2) outLen += Math.floor(rand() * 11) - 5;
      if (what === 3) {
        if (!agree(bad.subarray(0, Math.floor(rand() * bad.length)), outLen)) rejected++;
      } else if (what === 4) {
        const longer = new Uint8Array(bad.length + 1);
        longer.set(bad);
        longer[bad.length] = Math.floor(rand() * 256);
        if (!agree(longer, outLen)) rejected++;
      } else if (outLen >= 0 && !agree(bad, outLen)) rejected++;
    }
  }
  assert.ok(valid === 60 && rejected > 3000, `${rejected} mutated blocks rejected`);
});

test('WebAssembly LZ4 decoder rejects the hand-made rule violations with the strict decoder\'s reason', () => {
  const lit = (n: number, v = 0x41): number[] => new Array<number>(n).fill(v);
  const cases: [number[], number, string][] = [
    [[0x10, 0x41, 0x01, 0x00, 0x60, ...lit(6)], 11, 'match-in-mflimit'],
    [[0x18, 0x41, 0x01, 0x00, 0x50, ...lit(5)], 16, 'match-in-lastliterals'],
    [[0x10, 0x41, 0x00, 0x00, 0x80, ...lit(8)], 13, 'offset-zero'],
    [[0x10, 0x41, 0x02, 0x00, 0x80, ...lit(8)], 13, 'offset-before-start'],
    [[0xd0, ...lit(13)], 12, 'output-overflow'],
    [[0xd0, ...lit(13)], 14, 'output-short'],
    [[0xd0, ...lit(10)], 13, 'truncated-input'],
    [[0x1f, 0x41, 0x01, 0x00, 255, 255, 255, 255, 255], 2000, 'truncated-input'],
    [[0xd0, ...lit(13), 0x00], 13, 'trailing-input'],
    [[0x10, 0x41, 0x01, 0x00, 0x80, ...lit(8), 0x99], 13, 'trailing-input'],
    [[], 5, 'empty-input'],
    [[0x10, 0x41], 0, 'output-overflow'],
    // a literal run longer than any output (255 extension bytes): rejected, not wrapped around
    [[0xf0, ...new Array<number>(20000).fill(255), 0], 1000, 'output-overflow'],
  ];
  for (const [block, outLen, reason] of cases) {
    assert.throws(() => lz4DecodeTransient(Uint8Array.from(block), outLen), (e: unknown) => e instanceof Lz4FormatError && e.reason === reason, reason);
  }
  assert.equal(lz4DecodeTransient(Uint8Array.from([0]), 0).length, 0);
});

test('WebAssembly LZ4 decoder: a transient result is reused by the next decode, a kept one is a copy; memory grows for big blocks', () => {
  const scratch = new Lz4Scratch();
  const enc = (src: Uint8Array): Uint8Array => {
    const dst = new Uint8Array(src.length + 1024);
    const r = lz4CompressDestSize(src, src.length, dst, 0, scratch);
    assert.equal(r.consumed, src.length);
    return dst.slice(0, r.written);
  };
  const small = new Uint8Array(5000).fill(1);
  const big = sample(unit(7), 4 << 20);
  const bs = enc(small);
  const bb = enc(big);
  const kept = lz4Decompress(bs, small.length, false, 0);
  const view = lz4Decompress(bs, small.length, false, 0, true);
  assert.ok(Buffer.from(view).equals(Buffer.from(small)));
  assert.ok(Buffer.from(lz4Decompress(bb, big.length, false, 0, true)).equals(Buffer.from(big)));
  assert.ok(Buffer.from(kept).equals(Buffer.from(small)));
  assert.ok(Buffer.from(lz4Decompress(bs, small.length, false, 0, true)).equals(Buffer.from(small)));
  // a partial reference keeps a prefix of the whole block
  assert.ok(Buffer.from(lz4Decompress(bb, 1000, true, big.length)).equals(Buffer.from(big.subarray(0, 1000))));
});
