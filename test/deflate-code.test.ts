// The DEFLATE encoder's WebAssembly parts that replaced JS (assembly/deflate.ts hbuild: dynamic-block
// Huffman codes, splitPrice: block-split pricing) give what the JS gave, and the encoder's bytes on
// edge inputs are pinned (taken from the all-JS construction, main 22cd831).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DynCode } from '../src/compress/deflate-code.js';
import { RefCode } from './helpers/deflate-code-reference.js';
import { NUM_LL, NUM_D, NUM_CL, EOB, FIXED_LL_LEN, CL_ORDER, canonicalCodes } from '../src/compress/deflate-huffman.js';
import { BitWriter } from '../src/compress/deflate-writer.js';
import { deflateWasm } from '../src/compress/deflate-lz77.js';
import { TokenStore, tokXb } from '../src/compress/deflate-tokens.js';
import { Lz77Parser } from '../src/compress/deflate-lz77.js';
import { deflateDestSize, warmUpCalls } from '../src/compress/deflate.js';

/** deterministic numbers (xorshift32) */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** histograms of the shapes the construction branches on */
function histograms(): [string, Int32Array, Int32Array][] {
  const out: [string, Int32Array, Int32Array][] = [];
  const next = rng(0x1234567);
  const add = (name: string, ll: Int32Array, d: Int32Array) => out.push([name, ll, d]);
  add('empty (EOB only)', Int32Array.from({ length: NUM_LL }, (_, i) => (i === EOB ? 1 : 0)), new Int32Array(NUM_D));
  add('one literal, one distance', Int32Array.from({ length: NUM_LL }, (_, i) => (i === 65 || i === EOB ? 5 : 0)), Int32Array.from({ length: NUM_D }, (_, i) => (i === 29 ? 3 : 0)));
  // Fibonacci counts: unlimited lengths past 15 bits (the Kraft repair), in both alphabets
  const fib = (n: number, len: number) => {
    const a = new Int32Array(len);
    for (let i = 0, x = 1, y = 1; i < n; i++, [x, y] = [y, x + y]) a[i] = x;
    return a;
  };
  const fl = fib(26, NUM_LL);
  fl[EOB] = 1;
  add('fibonacci', fl, fib(24, NUM_D));
  // weights of 2^22 and more (the JS sorted those as doubles, not packed keys)
  const big = Int32Array.from({ length: NUM_LL }, (_, i) => (i % 3 === 0 ? (1 << 23) + i : i % 7));
  add('large weights', big, Int32Array.from({ length: NUM_D }, (_, i) => (i < 2 ? 1 << 24 : i)));
  // ties everywhere (order by symbol number), few and many symbols (insertion sort vs radix)
  add('all equal', new Int32Array(NUM_LL).fill(7), new Int32Array(NUM_D).fill(7));
  for (const used of [3, 20, 40, 41, 100, 286]) {
    for (let k = 0; k < 25; k++) {
      const ll = new Int32Array(NUM_LL);
      const d = new Int32Array(NUM_D);
      const maxW = [2, 30, 1000, 1 << 16, 1 << 21][k % 5];
      for (let j = 0; j < used; j++) ll[next() % NUM_LL] = 1 + (next() % maxW);
      ll[EOB] = 1;
      for (let j = 0; j < Math.min(used, 30); j++) if (next() % 2) d[next() % NUM_D] = 1 + (next() % maxW);
      // geometric tails: long codes
      if (k % 4 === 3) for (let j = 0; j < 40; j++) ll[j] = 2 ** (j % 20);
      add(`random ${used} symbols #${k}`, ll, d);
    }
  }
  return out;
}

test('deflate_code_wasm_matches_js_reference: code lengths, header runs, header and data bits are the JS construction\'s for every histogram shape', () => {
  const code = new DynCode();
  const ref = new RefCode();
  for (const [name, ll, d] of histograms()) {
    code.build(ll, d);
    ref.build(ll, d);
    assert.deepEqual(code.llLen, ref.llLen, name);
    assert.deepEqual(code.dLen, ref.dLen, name);
    assert.deepEqual(code.clLen, ref.clLen, name);
    assert.deepEqual([code.hlit, code.hdist, code.hclen, code.rleN, code.headerBits], [ref.hlit, ref.hdist, ref.hclen, ref.rleN, ref.headerBits], name);
    assert.deepEqual(code.rle.subarray(0, code.rleN), ref.rle.subarray(0, ref.rleN), name);
    assert.equal(code.bits, ref.dataBits(ll, d), name);
    for (const l of code.llLen) assert.ok(l <= 15, name);
  }
});

test('deflate_code_reads_token_store_in_place: a histogram in the module\'s memory gives the code a copy of it gives', () => {
  const ts = new TokenStore();
  const parser = new Lz77Parser();
  const src = warmUpCalls()[7].src;
  parser.begin(ts, src, src.length, 2, src.length + 2);
  parser.parseTo(src.length);
  const inPlace = new DynCode();
  inPlace.build(ts.cumLL, ts.cumD);
  const copied = new DynCode();
  copied.build(Int32Array.from(ts.cumLL), Int32Array.from(ts.cumD));
  const ref = new RefCode();
  ref.build(Int32Array.from(ts.cumLL), Int32Array.from(ts.cumD));
  assert.deepEqual(inPlace.llLen, copied.llLen);
  assert.deepEqual(inPlace.llLen, ref.llLen);
  assert.equal(inPlace.headerBits, ref.headerBits);
  assert.equal(inPlace.bits, ref.dataBits(ts.cumLL, ts.cumD));
});

test('deflate_dynamic_header_in_wasm_matches_js: wdynamic writes the header the JS writer wrote and sets the canonical codes JS made', () => {
  const w = new BitWriter();
  const code = new DynCode();
  for (const [name, ll, d] of histograms()) {
    code.build(ll, d);
    for (const final of [false, true]) {
      // the JS writer: canonical codes in JS, one put per header field
      const llCode = new Int32Array(NUM_LL);
      const dCode = new Int32Array(NUM_D);
      const clCode = new Int32Array(NUM_CL);
      canonicalCodes(code.llLen, NUM_LL, llCode);
      canonicalCodes(code.dLen, NUM_D, dCode);
      canonicalCodes(code.clLen, NUM_CL, clCode);
      w.reset(4096);
      w.put(final ? 1 : 0, 1);
      w.put(2, 2);
      w.put(code.hlit - 257, 5);
      w.put(code.hdist - 1, 5);
      w.put(code.hclen - 4, 4);
      for (let i = 0; i < code.hclen; i++) w.put(code.clLen[CL_ORDER[i]], 3);
      for (let i = 0; i < code.rleN; i++) {
        const v = code.rle[i];
        const s = v & 255;
        w.put(clCode[s] & 0xffff, clCode[s] >> 16);
        if (s === 16) w.put(v >> 8, 2);
        else if (s === 17) w.put(v >> 8, 3);
        else if (s === 18) w.put(v >> 8, 7);
      }
      const want = w.flush();
      w.reset(4096);
      w.dynamicHeader(code, final);
      const m = deflateWasm();
      const codes = new Int32Array(m.memory.buffer, m.codesPtr(), 288 + 32);
      assert.deepEqual(codes.subarray(0, NUM_LL), llCode, name);
      assert.deepEqual(codes.subarray(288, 288 + NUM_D), dCode, name);
      assert.deepEqual(w.flush(), want, `${name} final ${final}`);
    }
  }
});

/** the JS pricing splitPrice replaced: statistics of tokens [from, from + n), entropies in symbol order */
function refPrice(ts: TokenStore, from: number, n: number, bLL: Int32Array, bD: Int32Array, tlB: number, tdB: number) {
  const xlog = (f: number) => (f < 2 ? 0 : f * Math.log2(f));
  const nLL = new Int32Array(NUM_LL);
  const nD = new Int32Array(NUM_D);
  nLL[EOB] = 1;
  let xb = 0;
  let fixed = 0;
  let matches = 0;
  for (let t = from; t < from + n; t++) {
    const v = ts.tok[t];
    const s = v & 511;
    nLL[s]++;
    if (s > 256) {
      const x = tokXb(v);
      nD[(v >>> 9) & 31]++;
      matches++;
      xb += x;
      fixed += FIXED_LL_LEN[s] + 5 + x;
    } else fixed += FIXED_LL_LEN[s];
  }
  const tlN = n + 1;
  let eN = xlog(tlN) + xlog(matches);
  let eJ = xlog(tlB + tlN - 1) + xlog(tdB + matches);
  const jLL = new Int32Array(NUM_LL);
  const jD = new Int32Array(NUM_D);
  for (let i = 0; i < NUM_LL; i++) {
    if (i === EOB) {
      jLL[i] = 1;
      continue;
    }
    eN -= xlog(nLL[i]);
    jLL[i] = bLL[i] + nLL[i];
    eJ -= xlog(jLL[i]);
  }
  for (let i = 0; i < NUM_D; i++) {
    eN -= xlog(nD[i]);
    jD[i] = bD[i] + nD[i];
    eJ -= xlog(jD[i]);
  }
  return { eN, eJ, xb, fixed, matches, nLL, nD, jLL, jD };
}

test('deflate_split_price_matches_js: splitPrice gives the JS pricing\'s doubles, counts and histograms', () => {
  const ts = new TokenStore();
  const parser = new Lz77Parser();
  const calls = warmUpCalls();
  // text, noise, text then noise, zeros; open blocks small and past the f*log2(f) table (4096)
  for (const [i, level] of [[0, 2], [2, 2], [7, 2], [7, 6], [9, 1]] as const) {
    const src = calls[i].src;
    parser.begin(ts, src, src.length, level, src.length + 2);
    parser.parseTo(src.length);
    const STEP = 64;
    // an open block B of made-up counts, large enough for the big-count path
    const bLL = Int32Array.from({ length: NUM_LL }, (_, k) => (k === EOB ? 1 : (k * 37) % 5000));
    const bD = Int32Array.from({ length: NUM_D }, (_, k) => (k * 911) % 9000);
    const tlB = bLL.reduce((a, b) => a + b, 0);
    const tdB = bD.reduce((a, b) => a + b, 0);
    for (let from = 0; from + STEP <= ts.n; from += STEP * 7) {
      ts.bLL.set(bLL);
      ts.bD.set(bD);
      parser.splitPrice(from, STEP, tlB, tdB);
      const r = refPrice(ts, from, STEP, bLL, bD, tlB, tdB);
      const ctx = `input ${i} level ${level} from ${from}`;
      assert.equal(ts.priceE[0], r.eN, ctx);
      assert.equal(ts.priceE[1], r.eJ, ctx);
      assert.deepEqual([...ts.priceN], [r.xb, r.fixed, r.matches], ctx);
      assert.deepEqual(ts.nLL, r.nLL, ctx);
      assert.deepEqual(ts.nD, r.nD, ctx);
      assert.deepEqual(ts.jLL, r.jLL, ctx);
      assert.deepEqual(ts.jD, r.jD, ctx);
    }
  }
});

/** sha256 over (consumed, stream) of every edge input x level x capacity */
function edgeDigest(): string {
  const h = createHash('sha256');
  const calls = warmUpCalls();
  const inputs = [...new Set(calls.map((c) => c.src))];
  // binary-like: runs of structure and noise, long enough for block splits at 64 KiB pclusters
  const next = rng(99);
  const bin = new Uint8Array(300_000);
  for (let i = 0; i < bin.length; i++) bin[i] = (i >> 12) % 3 === 0 ? next() & 255 : (i >> 12) % 3 === 1 ? (i * 7) & 31 : calls[0].src[i % calls[0].src.length];
  inputs.push(bin);
  for (const src of inputs) {
    for (const level of [1, 2, 6, 9]) {
      for (const cap of [16, 60, 512, 4096, 16384, 65536]) {
        let pos = 0;
        for (let k = 0; k < 4 && pos < src.length; k++) {
          const r = deflateDestSize(src.subarray(pos), src.length - pos, cap, level);
          h.update(Uint32Array.of(r.consumed, r.data.length));
          h.update(r.data);
          pos += Math.max(1, r.consumed);
        }
      }
    }
  }
  return h.digest('hex');
}

test('deflate_encoder_edge_bytes_pinned: streams of edge inputs at levels 1/2/6/9, capacities 16 B .. 64 KiB are the ones the all-JS Huffman code and split pricing wrote', () => {
  assert.equal(edgeDigest(), '27207681a8fdbe6a7ce99dff42c9288cba41f962481cacd227a32b2053c63bba');
});
