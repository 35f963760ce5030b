// The DEFLATE encoder's input window (Codec.window, src/compress/deflate-lz77.ts deflateWindow): the
// caller reads a file into the module's memory and each pcluster is parsed there in place, with room
// for its tokens reserved, so no second copy of the input is made and the window stays valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeCodec } from '../src/compress/codec.js';
import { deflateDestSize, warmUpCalls } from '../src/compress/deflate.js';
import { deflateWasm } from '../src/compress/deflate-lz77.js';
import { compressExtents, readFromBytes } from '../src/pipeline/files/zfile.js';
import { WORDS } from './helpers/arbitraries.js';
import { noise } from './helpers/noise.js';

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/** deterministic bytes (xorshift32: helpers/noise.ts) */
const prng = (seed: number, n: number): Uint8Array => noise(n, seed);

/** words separated by blanks, in a pseudo-random order */
function text(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n;) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const w = `${WORDS[(x >>> 16) % WORDS.length]}${(x & 15) === 0 ? `${x % 1000}\n` : ' '}`;
    for (let k = 0; k < w.length && i < n; k++) out[i++] = w.charCodeAt(k);
  }
  return out;
}

/** 4 KiB pages of the module's memory holding a byte other than 0, outside [from, to) */
function writtenPagesOutside(from: number, to: number): number {
  const words = new Uint32Array(deflateWasm().memory.buffer);
  let pages = 0;
  for (let p = 0; p < words.length; p += 1024) {
    for (let i = p; i < p + 1024; i++) {
      if (words[i] !== 0 && (i * 4 < from || i * 4 >= to)) {
        pages++;
        break;
      }
    }
  }
  return pages;
}

test('deflate_big_pcluster_memory_bound: 1 MiB pclusters of a 12 MiB file leave the DEFLATE module no copy of the input beyond the window it reads in place, nor tokens spread over it (was 3487 written pages, 13.6 MiB)', () => {
  // A 61-byte period: every pcluster is offered all 8000 KiB (MAX_EXTENT_INPUT) and parsed to the
  // end, into matches of 258 bytes. The module copied as much of it as it parsed, moving the copy and
  // the four token arrays up each time it doubled its room, and kept every page it had written (a
  // memory of WebAssembly never shrinks): a build's peak RSS had ~20-40 MiB of this per DEFLATE thread.
  const size = 12 << 20;
  const src = Uint8Array.from({ length: size }, (_, i) => 1 + ((i * 7) % 61));
  const pc = 1 << 20;
  const codec = makeCodec({ name: 'deflate', level: 2 }, pc);
  const z = compressExtents(readFromBytes(src), size, { codec, blockSize: 4096, pclusterSize: pc, big: true, ztailpacking: false });
  assert.equal(z.extents.reduce((n, e) => n + e.llen, 0), size);
  assert.ok(z.extents.every((e) => e.compressed), 'every extent compressed');
  const win = codec.window?.(0, 0);
  const at = win && win.buffer === deflateWasm().memory.buffer ? win.byteOffset : 0;
  const written = writtenPagesOutside(at, at + (win?.length ?? 0));
  // tables (~110 pages), the tokens of one pcluster (4 bytes per match of 258 bytes: ~30) and its
  // output: 138 pages
  assert.ok(written <= 256, `${written} pages written outside the window`);
});

test('deflate_window_in_place_same_bytes: pclusters parsed in the window are the bytes of deflateDestSize on a copy, and the window stays valid (no memory growth)', () => {
  const inputs: Uint8Array[] = [text(3, 3 << 20), prng(5, 300_000), new Uint8Array(2 << 20), Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 7 + (i >> 9)) % 13)];
  for (const c of warmUpCalls()) inputs.push(c.src.slice(0, c.srcLen));
  for (const [outCap, caps] of [[4096, [60, 700, 4096]], [1 << 20, [4096, 65536, 1 << 20]]] as const) {
    for (const level of [0, 2, 9]) {
      // level 9 on megabytes is slow: the 1 MiB capacity on the smaller inputs only
      const runs = (src: Uint8Array) => caps.filter((cap) => !(level === 9 && cap === 1 << 20 && src.length > 400_000));
      // first, on copies (this thread's module: it copies them into the region the window is)
      const want = inputs.map((src) => runs(src).map((cap) => deflateDestSize(src, src.length, cap, level)));
      const codec = makeCodec({ name: 'deflate', level }, outCap);
      const win = codec.window!(4 << 20, outCap);
      const buffer = win.buffer;
      for (const [i, src] of inputs.entries()) {
        // at an odd offset: nothing depends on the input's alignment
        const at = 4097;
        win.set(src, at);
        for (const [j, cap] of runs(src).entries()) {
          const ctx = `outCap ${outCap} level ${level} input ${i} capacity ${cap}`;
          const got = codec.compress(win.subarray(at, at + src.length), src.length, cap);
          assert.equal(got.consumed, want[i][j].consumed, ctx);
          assert.ok(same(got.data, want[i][j].data), ctx);
          assert.equal(deflateWasm().memory.buffer, buffer, `${ctx}: the memory grew`);
          assert.ok(same(win.subarray(at, at + src.length), src), `${ctx}: the window's bytes changed`);
        }
      }
    }
  }
});
