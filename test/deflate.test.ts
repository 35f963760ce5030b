// DEFLATE destsize compressor and strict inflater (src/compress/deflate*.ts).
// Oracles: node:zlib (the kernel's inflate) and fflate (an independent JS inflater).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { WORDS as BASE_WORDS, dataArbitraries } from './helpers/arbitraries.js';
import { noise } from './helpers/noise.js';
import { inflateSync } from 'fflate';
import {
  deflateDestSize,
  DEFLATE_DEFAULT_LEVEL,
  DEFLATE_MAX_LEVEL,
  type DeflateHint,
  type DeflateResult,
  warmUpCalls,
} from '../src/compress/deflate.js';
import { Worker } from 'node:worker_threads';
import { inflateStrict, DeflateFormatError } from '../src/compress/deflate-inflate.js';
import { STORED_PAD_BIT } from '../src/compress/deflate-writer.js';

const LEVELS = [0, 1, 6, 9];
const REASONS = new Set(['truncated', 'missing-final-block', 'output-too-long', 'output-too-short', 'trailing-data', 'corrupt']);

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/** deterministic bytes (xorshift32: helpers/noise.ts) */
const prng = (seed: number, n: number): Uint8Array => noise(n, seed);

/** every property a pcluster stream must have, checked against two independent inflaters */
function checkResult(src: Uint8Array, srcLen: number, cap: number, level: number, r: DeflateResult): void {
  const ctx = `srcLen ${srcLen} cap ${cap} level ${level} -> consumed ${r.consumed}, ${r.data.length} bytes`;
  assert.ok(r.data.length <= cap, `too long: ${ctx}`);
  assert.ok(r.data.length >= 2, `too short to be a stream: ${ctx}`);
  assert.notEqual(r.data[0], 0, `first byte 0 breaks EROFS 0PADDING: ${ctx}`);
  assert.ok(Number.isInteger(r.consumed) && r.consumed >= 0 && r.consumed <= srcLen, ctx);
  const want = src.subarray(0, r.consumed);
  assert.ok(same(zlib.inflateRawSync(r.data), want), `zlib inflate mismatch: ${ctx}`);
  assert.ok(same(inflateSync(r.data), want), `fflate inflate mismatch: ${ctx}`);
  assert.ok(same(inflateStrict(r.data, r.consumed), want), `inflateStrict mismatch: ${ctx}`);
}

/** one-shot zlib size of a prefix (stored size for level 0), for "fits comfortably" checks */
function zlibSize(src: Uint8Array, n: number, level: number): number {
  if (level === 0) return n + 5 * Math.max(1, Math.ceil(n / 65535));
  return zlib.deflateRawSync(src.subarray(0, n), { level, memLevel: 9 }).length;
}

function checkBlock(src: Uint8Array, srcLen: number, cap: number, level: number): DeflateResult {
  const r = deflateDestSize(src, srcLen, cap, level);
  checkResult(src, srcLen, cap, level, r);
  // the whole input, when it fits comfortably, must be taken
  if (r.consumed < srcLen && srcLen <= 300000) {
    const z = zlibSize(src, srcLen, level);
    assert.ok(z > cap * 0.9 - 8, `whole input fits in ${z} of ${cap} bytes but only ${r.consumed}/${srcLen} taken (level ${level})`);
  }
  // near-maximal: zlib at the same level cannot fit 10 % more input with room to spare
  if (r.consumed < srcLen && level > 0 && cap >= 256 && cap <= 16384) {
    const more = Math.min(srcLen, Math.ceil(r.consumed * 1.1) + 32);
    const z = zlibSize(src, more, level);
    assert.ok(z > cap - 32, `zlib fits ${more} bytes in ${z} <= ${cap - 32}, we took only ${r.consumed} (level ${level})`);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// data generators

const WORDS = [...BASE_WORDS, 'deflate'];
const { anyData, kinds } = dataArbitraries({ words: WORDS, textWords: 8000, mixedParts: 14, mixedRandom: 3000, mixedText: 6000, mixedZeros: 5000 });
const capArb = fc.oneof(
  fc.integer({ min: 16, max: 600 }),
  fc.constantFrom(16, 17, 20, 32, 64, 512, 4096, 4097, 16384, 65535, 65536, 65540, 65541, 1 << 20),
  fc.integer({ min: 16, max: 1 << 20 }),
);
const levelArb = fc.constantFrom(...LEVELS);

let propertyCases = 0;
function runs(n: number): number {
  propertyCases += n;
  return n;
}

const roundTrip = fc.property(anyData, capArb, levelArb, (data, cap, level) => {
  checkBlock(data, data.length, cap, level);
});

test('destSize round trip: fixed seeds', () => {
  for (const seed of [1, 42, 20241125]) fc.assert(roundTrip, { seed, numRuns: runs(250) });
});

test('destSize round trip: random seed', () => {
  const seed = (Date.now() ^ (process.pid << 8)) >>> 0;
  console.log(`deflate property seed: ${seed} (rerun with fc seed ${seed})`);
  // no shrinking: on these inputs it ran 53 minutes for seed 1284510741. The first counterexample
  // and the seed (in fast-check's message) are enough to rerun and shrink by hand.
  fc.assert(roundTrip, { seed, numRuns: runs(250), endOnFailure: true });
});

// Finding (seed 1284510741, case 157): the cut's forward walk with code B (built for the prefix
// code A's cut kept) stopped at the first token whose symbol the prefix had never used, as if it did
// not fit, though 85 of 384 bytes were spare; the fixed code then won with 5450 bytes where zlib
// fits 6028 in 319. The input: 4754 zeros, 580 bytes of words, 9379 zeros, ~15.6 KB random bytes
// (zeros and words cost so little that the first chunks swallow the random tail, whose literals
// give code A long codes, so its cut falls early; the next token is a distance unseen so far).
test('finding: destSize forward walk stopped at a symbol new to the prefix', () => {
  // the fast-check run that found it (stops at the first failure, no shrinking)
  fc.assert(roundTrip, { seed: 1284510741, numRuns: runs(160), endOnFailure: true });
  // the same shape, built without fast-check: zeros, words, zeros, random bytes; capacity 256
  const text = new TextEncoder().encode(Array.from({ length: 100 }, (_, i) => WORDS[(i * 7 + (i >> 3) * 3) % WORDS.length]).join(' '));
  const data = new Uint8Array(2000 + text.length + 4000 + 8000);
  data.set(text, 2000);
  data.set(prng(5, 8000), 2000 + text.length + 4000);
  const r = checkBlock(data, data.length, 256, 1);
  // before the fix: 4716 bytes (fixed code; the dynamic walk stopped at 2405 with 609 bits spare)
  assert.ok(r.consumed > 6000, `took only ${r.consumed} bytes into 256`);
});

test('each data kind x levels 0/1/6/9 x capacities 16 .. 1 MiB', () => {
  for (const [, arb] of kinds) {
    for (const level of LEVELS) {
      fc.assert(fc.property(arb, capArb, (data, cap) => void checkBlock(data, data.length, cap, level)), { seed: 7 + level, numRuns: runs(30) });
    }
  }
});

test('a file cut into pclusters: every stream decodes, together they rebuild the file', () => {
  const text = new TextEncoder().encode(Array.from({ length: 30000 }, (_, i) => WORDS[(i * 7 + (i >> 5)) % WORDS.length]).join(' '));
  const file = new Uint8Array(text.length + 50000 + 20000 + 30000);
  file.set(text, 0);
  file.set(prng(3, 50000), text.length); // incompressible
  file.set(text.subarray(0, 30000), text.length + 70000); // after 20000 zeros
  for (const level of [1, 6, 9]) {
    for (const cap of [4096, 16384]) {
      let pos = 0;
      const parts: Uint8Array[] = [];
      const hint: DeflateHint = {};
      while (pos < file.length) {
        const rest = file.subarray(pos);
        const r = deflateDestSize(rest, rest.length, cap, level, hint);
        checkResult(rest, rest.length, cap, level, r);
        assert.ok(r.consumed > 0);
        parts.push(zlib.inflateRawSync(r.data));
        pos += r.consumed;
      }
      assert.ok(same(Buffer.concat(parts), file), `level ${level} cap ${cap}`);
    }
  }
});

test('large inputs and capacities (1 MiB pclusters, multi-block stored output)', () => {
  const text = new TextEncoder().encode(Array.from({ length: 400000 }, (_, i) => WORDS[(i * 13 + (i >> 3)) % WORDS.length]).join(' '));
  const rnd = prng(11, 1_500_000);
  for (const [src, cap] of [
    [text, 1 << 20],
    [text, 65536],
    [rnd, 1 << 20],
    [rnd, 300000],
    [new Uint8Array(3_000_000), 4096],
  ] as [Uint8Array, number][]) {
    for (const level of [0, 6]) checkBlock(src, src.length, cap, level);
  }
});

test('incompressible data: stored blocks, exactly capacity - 5 bytes per block', () => {
  const rnd = prng(5, 200000);
  for (const level of LEVELS) {
    for (const cap of [16, 100, 4096, 65540]) {
      const r = checkBlock(rnd, rnd.length, cap, level);
      // at tiny capacities the fixed code (~8.4 bits a byte, no 5-byte header) can beat stored
      if (cap < 1000) assert.ok(r.consumed >= cap - 5, `level ${level} cap ${cap}: ${r.consumed}`);
      else {
        assert.equal(r.consumed, cap - 5, `level ${level} cap ${cap}`);
        assert.equal(r.data.length, cap);
      }
    }
    // more than one stored block: 65535 + 65535 + rest
    const r = checkBlock(rnd, rnd.length, 140000, level);
    assert.equal(r.consumed, 140000 - 15);
  }
});

test('tiny capacities and empty input', () => {
  const text = new TextEncoder().encode('hello hello hello erofs world');
  for (const level of LEVELS) {
    for (let cap = 2; cap < 40; cap++) checkBlock(text, text.length, cap, level);
    const e = deflateDestSize(new Uint8Array(0), 0, 4096, level);
    assert.equal(e.consumed, 0);
    checkResult(new Uint8Array(0), 0, 4096, level, e);
  }
  // 2 bytes hold the empty stream (fixed block with only end-of-block) but no literal
  assert.deepEqual([...deflateDestSize(text, text.length, 2, 6).data], [0x03, 0x00]);
});

test('argument checks', () => {
  const d = new Uint8Array(100);
  assert.throws(() => deflateDestSize(d, 101, 4096, 6), RangeError);
  assert.throws(() => deflateDestSize(d, -1, 4096, 6), RangeError);
  assert.throws(() => deflateDestSize(d, 100, 1, 6), RangeError);
  assert.throws(() => deflateDestSize(d, 100, 4096.5, 6), RangeError);
  assert.throws(() => deflateDestSize(d, 100, 4096, 10), RangeError);
  assert.throws(() => deflateDestSize(d, 100, 4096, -1), RangeError);
  assert.ok(DEFLATE_DEFAULT_LEVEL >= 1 && DEFLATE_DEFAULT_LEVEL <= DEFLATE_MAX_LEVEL);
});

// ---------------------------------------------------------------------------------------------
// determinism

test('deterministic: same input -> same bytes, with or without a hint, whatever ran before', () => {
  const inputs = fc.sample(anyData, { seed: 99, numRuns: 40 });
  const caps = [16, 300, 4096, 16384, 65536];
  const key = (i: number, cap: number, level: number) => `${i}/${cap}/${level}`;
  const first = new Map<string, DeflateResult>();
  for (let i = 0; i < inputs.length; i++) {
    for (const cap of caps) for (const level of LEVELS) first.set(key(i, cap, level), deflateDestSize(inputs[i], inputs[i].length, cap, level));
  }
  // again in another order, each with a hint that has seen other files, interleaved with other work
  const hint: DeflateHint = {};
  const noise = prng(77, 50000);
  for (let i = inputs.length - 1; i >= 0; i--) {
    for (const cap of [...caps].reverse()) {
      for (const level of [...LEVELS].reverse()) {
        deflateDestSize(noise, (i * 997 + cap) % noise.length, cap + 13, (level + 3) % 10);
        const again = deflateDestSize(inputs[i], inputs[i].length, cap, level, hint);
        const a = first.get(key(i, cap, level))!;
        assert.equal(again.consumed, a.consumed);
        assert.ok(same(again.data, a.data), `input ${i} cap ${cap} level ${level}`);
      }
    }
  }
});

test('only src[0..srcLen) is read', () => {
  const text = new TextEncoder().encode(Array.from({ length: 5000 }, (_, i) => WORDS[(i * 5) % WORDS.length]).join(' '));
  for (const level of LEVELS) {
    for (const n of [0, 1, 100, 5000, text.length]) {
      const exact = deflateDestSize(text.slice(0, n), n, 4096, level);
      const padded = new Uint8Array(text.length + 1000);
      padded.set(text.subarray(0, n));
      padded.fill(0xa5, n);
      const r = deflateDestSize(padded, n, 4096, level);
      assert.ok(same(r.data, exact.data) && r.consumed === exact.consumed, `level ${level} n ${n}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// the first-byte rule (EROFS 0PADDING)

test('a non-final stored first block: padding bits 3..7 are ignored, so 0x08 is safe', () => {
  // RFC 1951 3.2.4: a stored block's header is BFINAL (bit 0) and BTYPE=00 (bits 1-2); "any bits of
  // input up to the next byte boundary are ignored". So bits 3..7 of the first byte are free.
  const rnd = prng(9, 200000);
  const r = deflateDestSize(rnd, rnd.length, 140000, 0); // three stored blocks, the first non-final
  assert.equal(r.data[0], STORED_PAD_BIT);
  assert.equal(STORED_PAD_BIT, 0x08);
  const want = rnd.subarray(0, r.consumed);
  for (let pad = 0; pad < 32; pad++) {
    const v = r.data.slice();
    v[0] = pad << 3; // BFINAL=0, BTYPE=00, any padding
    assert.ok(same(zlib.inflateRawSync(v), want), `zlib, first byte ${v[0]}`);
    assert.ok(same(inflateSync(v), want), `fflate, first byte ${v[0]}`);
    assert.ok(same(inflateStrict(v, r.consumed), want));
  }
  // bits 0..2 are not padding: BFINAL=1 ends the stream after the first block
  const bad = r.data.slice();
  bad[0] = 0x01;
  assert.throws(() => inflateStrict(bad, r.consumed), DeflateFormatError);
  // level >= 1 falls back to stored blocks on incompressible data too
  const z = deflateDestSize(rnd, rnd.length, 1 << 20, 6);
  assert.equal(z.data[0], STORED_PAD_BIT);
  checkResult(rnd, rnd.length, 1 << 20, 6, z);
});

// ---------------------------------------------------------------------------------------------
// inflateStrict

function reasonOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof DeflateFormatError, `not a DeflateFormatError: ${String(e)}`);
    assert.ok(REASONS.has(e.reason), e.reason);
    return e.reason;
  }
  return 'ok';
}

test('inflateStrict rejects truncated, long, short, unterminated, trailing and garbage streams', () => {
  const text = new TextEncoder().encode(Array.from({ length: 20000 }, (_, i) => WORDS[(i * 3) % WORDS.length]).join(' '));
  for (const level of [1, 6, 9]) {
    const r = deflateDestSize(text, text.length, 4096, level);
    const n = r.consumed;
    assert.ok(same(inflateStrict(r.data, n), text.subarray(0, n)));
    for (const cut of [1, 2, 7, 100, r.data.length - 1]) assert.equal(reasonOf(() => inflateStrict(r.data.subarray(0, r.data.length - cut), n)), 'truncated', `cut ${cut}`);
    assert.equal(reasonOf(() => inflateStrict(r.data, n - 1)), 'output-too-long');
    assert.equal(reasonOf(() => inflateStrict(r.data, 0)), 'output-too-long');
    assert.equal(reasonOf(() => inflateStrict(r.data, n + 1)), 'output-too-short');
    const noFinal = r.data.slice();
    noFinal[0] &= ~1; // clear BFINAL: the block still ends, then the input runs out
    assert.equal(reasonOf(() => inflateStrict(noFinal, n)), 'missing-final-block');
    const trailing = new Uint8Array(r.data.length + 1);
    trailing.set(r.data);
    assert.equal(reasonOf(() => inflateStrict(trailing, n)), 'trailing-data');
  }
  // zlib's sync-flushed stream: complete blocks, none final
  const synced = zlib.deflateRawSync(text.subarray(0, 5000), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.equal(reasonOf(() => inflateStrict(synced, 5000)), 'missing-final-block');
  // garbage
  assert.equal(reasonOf(() => inflateStrict(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 10)), 'corrupt'); // BTYPE=11
  assert.equal(reasonOf(() => inflateStrict(new Uint8Array(0), 0)), 'truncated');
  assert.equal(reasonOf(() => inflateStrict(Uint8Array.of(0x01, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5), 5)), 'corrupt'); // LEN/NLEN mismatch
  // the empty stream
  assert.equal(inflateStrict(Uint8Array.of(0x03, 0x00), 0).length, 0);
  assert.throws(() => inflateStrict(Uint8Array.of(0x03, 0x00), -1), RangeError);
});

test('inflateStrict on random and mutated input: exact bytes or DeflateFormatError, nothing else', () => {
  const text = new TextEncoder().encode(Array.from({ length: 8000 }, (_, i) => WORDS[(i * 11) % WORDS.length]).join(' '));
  const good = deflateDestSize(text, text.length, 2048, 6);
  const p = fc.property(
    fc.oneof(
      fc.uint8Array({ maxLength: 3000 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(7)), { minLength: 1, maxLength: 6 }).map((flips) => {
        const v = good.data.slice();
        for (const [at, bit] of flips) v[at % v.length] ^= 1 << bit;
        return v;
      }),
    ),
    (data) => {
      let out: Uint8Array | undefined;
      try {
        out = inflateStrict(data, good.consumed);
      } catch (e) {
        assert.ok(e instanceof DeflateFormatError, `unexpected ${String(e)}`);
        assert.ok(REASONS.has(e.reason));
        return;
      }
      assert.equal(out.length, good.consumed);
    },
  );
  fc.assert(p, { seed: 5, numRuns: runs(400) });
});

test('property case count', () => {
  assert.ok(propertyCases >= 1000);
  console.log(`deflate property cases: ${propertyCases}`);
});

/** The first block's BFINAL and BTYPE bits. */
const firstBlock = (data: Uint8Array) => ({ final: (data[0] & 1) === 1, type: (data[0] >> 1) & 3 });

test('deflate_warm_up_reaches_every_path: each made-up input of the worker warm-up takes the path it names (a path seen first by real data made V8 compile the driver again)', () => {
  const seen = new Set<string>();
  for (const c of warmUpCalls()) {
    const r = deflateDestSize(c.src, c.srcLen, c.capacity, DEFLATE_DEFAULT_LEVEL);
    const words = c.path.split(', ');
    for (const w of words) seen.add(w);
    const at = `${c.path} (${c.srcLen} bytes into ${c.capacity})`;
    if (words.includes('whole')) assert.equal(r.consumed, c.srcLen, at);
    if (words.includes('cut')) assert.ok(r.consumed > 0 && r.consumed < c.srcLen, at);
    if (words.includes('empty')) assert.equal(r.consumed, 0, at);
    if (words.includes('stored')) assert.equal(firstBlock(r.data).type, 0, at);
    if (words.includes('fixed')) assert.equal(firstBlock(r.data).type, 1, at);
    if (words.includes('dynamic')) assert.equal(firstBlock(r.data).type, 2, at);
    // a block completed before the final one
    if (words.includes('split')) assert.equal(firstBlock(r.data).final, false, at);
    // an open block of more tokens than the xlog table holds (4096): noise is one literal a byte
    if (words.includes('long block')) assert.ok(c.srcLen > 4096, at);
    if (r.consumed > 0) assert.ok(same(inflateStrict(r.data, r.consumed), c.src.subarray(0, r.consumed)), at);
  }
  for (const w of ['whole', 'cut', 'empty', 'stored', 'fixed', 'dynamic', 'split', 'long block', 'long matches']) assert.ok(seen.has(w), w);
});

test('deflate_warm_up_changes_no_output: a worker thread (which warms the driver up first) writes the bytes the main thread (which does not) writes', async () => {
  const inputs: [Uint8Array, number][] = [];
  for (const c of warmUpCalls()) inputs.push([c.src.slice(0, c.srcLen), c.capacity]);
  const text = new TextEncoder().encode(BASE_WORDS.join(' ').repeat(40));
  for (const cap of [512, 4096, 65536]) inputs.push([text, cap], [prng(7, 20_000), cap]);
  const here = inputs.map(([src, cap]) => [...LEVELS, DEFLATE_DEFAULT_LEVEL].map((l) => deflateDestSize(src, src.length, cap, l)));
  const url = new URL('../src/compress/deflate.js', import.meta.url).href;
  const w = new Worker(`const { parentPort, workerData } = require('node:worker_threads');
import(workerData.url).then(({ deflateDestSize }) => parentPort.postMessage(workerData.inputs.map(([src, cap]) =>
  workerData.levels.map((l) => { const r = deflateDestSize(src, src.length, cap, l); return { consumed: r.consumed, data: r.data.slice() }; }))));`,
  { eval: true, workerData: { url, inputs, levels: [...LEVELS, DEFLATE_DEFAULT_LEVEL] } });
  try {
    const there = await new Promise<{ consumed: number; data: Uint8Array }[][]>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    assert.equal(there.length, here.length);
    here.forEach((rs, i) => rs.forEach((r, j) => {
      assert.equal(there[i][j].consumed, r.consumed, `input ${i} level ${j}`);
      assert.ok(same(there[i][j].data, r.data), `input ${i} level ${j}`);
    }));
  } finally {
    await w.terminate();
  }
});

test('deflate_codec_output_reused_same_bytes: the codec writes each stream into one reused buffer, byte for byte what deflateDestSize returns', async () => {
  const { makeCodec } = await import('../src/compress/codec.js');
  const text = new TextEncoder().encode(BASE_WORDS.join(' ').repeat(60));
  const inputs: [Uint8Array, number][] = [];
  for (const c of warmUpCalls()) inputs.push([c.src.slice(0, c.srcLen), c.capacity]);
  // capacities that grow and shrink again: the shared buffer grows, later streams are shorter
  for (const cap of [512, 65536, 4096, 1 << 20, 60]) inputs.push([text, cap], [prng(11, 30_000), cap]);
  for (const level of [1, DEFLATE_DEFAULT_LEVEL, 6]) {
    const codec = makeCodec({ name: 'deflate', level }, 4096);
    // Huffman-coded streams (first block not stored, some input) share one buffer; stored and empty ones are new
    const coded = (d: Uint8Array, consumed: number) => consumed > 0 && ((d[0] >> 1) & 3) !== 0;
    let prev: Uint8Array | null = null;
    let pairs = 0;
    let shared = 0;
    for (const [i, [src, cap]] of inputs.entries()) {
      const want = deflateDestSize(src, src.length, cap, level);
      const got = codec.compress(src, src.length, cap);
      assert.equal(got.consumed, want.consumed, `level ${level} input ${i}`);
      assert.ok(same(got.data, want.data), `level ${level} input ${i}`);
      const isCoded = coded(got.data, got.consumed);
      if (prev && isCoded) {
        pairs++;
        if (got.data.buffer === prev.buffer) shared++;
      }
      prev = isCoded ? got.data : null;
    }
    assert.ok(pairs >= 4, `level ${level}: ${pairs} consecutive coded streams`);
    assert.equal(shared, pairs, `level ${level}: consecutive coded streams in one buffer`);
  }
});

test('deflate_stored_pcluster_shared_buffer: stored streams (incompressible input) are written into the codec\'s reused buffer too, not a new buffer each (garbage a worker\'s GC came for after some 64 MiB)', async () => {
  const { makeCodec } = await import('../src/compress/codec.js');
  const text = new TextEncoder().encode(BASE_WORDS.join(' ').repeat(60));
  for (const level of [0, DEFLATE_DEFAULT_LEVEL]) {
    const codec = makeCodec({ name: 'deflate', level }, 1 << 20);
    let buffer: ArrayBufferLike | undefined;
    let stored = 0;
    for (const [i, [src, cap]] of ([[prng(4, 1_200_000), 1 << 20], [text, 4096], [prng(3, 200_000), 65536], [text, 1 << 20], [prng(5, 70_000), 4096]] as const).entries()) {
      const want = deflateDestSize(src, src.length, cap, level);
      const got = codec.compress(src, src.length, cap);
      assert.equal(got.consumed, want.consumed, `level ${level} input ${i}`);
      assert.ok(same(got.data, want.data), `level ${level} input ${i}`);
      if (((got.data[0] >> 1) & 3) === 0) stored++;
      buffer ??= got.data.buffer;
      assert.equal(got.data.buffer, buffer, `level ${level} input ${i}: a new buffer`);
    }
    assert.ok(stored >= 3, `level ${level}: ${stored} stored streams`);
    // level 0 stores every stream; the first one sized the buffer
    if (level === 0) assert.equal(stored, 5);
  }
});
