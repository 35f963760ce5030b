// Issue 21 (lever 5): the LZ4 / LZ4HC encoder (assembly/lz4.ts) is made faster without changing a
// byte it writes. This pins its blocks on inputs at the edges of its rules and of its search paths:
// runs longer than the run scan's cap and reaching the block's end, matches at exactly the largest
// offset (65535) and just beyond it, copies whose match would run into the last literals (a match
// starts at least MFLIMIT = 12 bytes before the end and ends at least LASTLITERALS = 5 before it,
// erofs-format.md §7), inputs of every length around those limits, and files longer than the
// 64 KiB chain window (positions wrap in the chain table, tables reused across calls). Digests
// recorded from main at 451b144, before the enc10 speed work (nextRise, hcFindRun, the chain head
// passed to hcFind).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Lz4Scratch, lz4DecompressStrict } from '../src/compress/lz4.js';
import { objectLike } from './helpers/objlike.js';
import { noise } from './helpers/noise.js';

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const fill = (n: number, b: number): Uint8Array => new Uint8Array(n).fill(b);
const periodic = (n: number, period: Uint8Array): Uint8Array => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = period[i % period.length];
  return out;
};

/** The edge inputs, each compressed as one file. */
function inputs(): Uint8Array[] {
  const r = noise(65537, 7);
  const list: Uint8Array[] = [
    // runs past RUN_CAP (4096) and past the 64 KiB window, one ending the file
    concat([fill(70000, 0), fill(5000, 0xaa), periodic(300, Uint8Array.of(1, 2)), fill(9000, 0), noise(40, 3), fill(4099, 0)]),
    // two- and three-byte periods, and a run that starts one byte into a copy
    concat([periodic(20000, Uint8Array.of(0x61, 0x62)), periodic(20000, Uint8Array.of(7, 8, 9)), noise(100, 4), fill(1, 7), periodic(3000, Uint8Array.of(7, 8, 9))]),
    // matches at exactly the largest offset (65535), just beyond it (65536) and just inside (65534)
    concat([r.subarray(0, 65535), r.subarray(0, 3000)]),
    concat([r.subarray(0, 65536), r.subarray(0, 3000)]),
    concat([r.subarray(0, 65534), r.subarray(0, 3000)]),
    // object-file-like bytes longer than the chain window
    objectLike(200 << 10, 11),
  ];
  // a copy that runs to the very end of the file, for every file length around the last-literals
  // rules: the match must stop MFLIMIT / LASTLITERALS before the end
  const head = noise(600, 9);
  for (let extra = 0; extra <= 20; extra++) list.push(concat([head, head.subarray(0, Math.min(600, 8 + extra * 29)), fill(extra, 0x33)]));
  // tiny files: one below to a few past MFLIMIT + 1, runs and noise
  for (let n = 0; n <= 40; n++) {
    list.push(fill(n, 0x41));
    list.push(noise(n, 100 + n));
  }
  return list.map((b) => new Uint8Array(b)); // plain arrays: noise() gives Buffers
}

/** sha256 over (input consumed, block) of each pcluster, each file cut as zfile.ts cuts it. */
function digest(files: Uint8Array[], cap: number, level: number, scratch: Lz4Scratch): string {
  const h = createHash('sha256');
  let pclusters = 0;
  for (const data of files) {
    for (let pos = 0; pos < data.length; pclusters++) {
      const src = data.subarray(pos);
      const r = scratch.compress(src, src.length, cap, level);
      assert.ok(r.consumed > 0, `cap ${cap} level ${level}: nothing consumed`);
      assert.deepEqual(lz4DecompressStrict(r.block, r.consumed), src.subarray(0, r.consumed));
      h.update(new Uint8Array(new Uint32Array([r.consumed]).buffer));
      h.update(r.block);
      pos += r.consumed;
    }
  }
  return `${h.digest('hex').slice(0, 16)} ${pclusters}`;
}

const RECORDED: Record<string, string> = {
  '1000/0': '59c9d0a889500295 432',
  '1000/1': '539958a2449a2b64 414',
  '1000/3': '8c6091681f346c73 413',
  '1000/4': '00c2f292ed915ae8 413',
  '1000/6': '35c32ebc45058ace 413',
  '1000/9': '35c32ebc45058ace 413',
  '1000/10': '05ce59ec66e7499b 413',
  '1000/12': '0d341587cbd8d49d 413',
  '4096/0': '8b2e4feaa5255b95 179',
  '4096/1': '1c3babc986da9a3b 174',
  '4096/3': 'f3799a9624d12d88 174',
  '4096/4': 'bdf1890bd459e126 173',
  '4096/6': 'c964161dd7a1d105 173',
  '4096/9': 'c964161dd7a1d105 173',
  '4096/10': '98e12cbf9bb40652 173',
  '4096/12': '7e231c4b1c62a0c7 173',
  '16384/0': 'effa24c5cf3cb484 123',
  '16384/1': 'e6799227c2030c8c 122',
  '16384/3': '09544745ea785971 121',
  '16384/4': '413398a92d827d2a 121',
  '16384/6': 'be0ac00617cf985a 121',
  '16384/9': '7b24742a4dfed9a2 121',
  '16384/10': '79a7f0f9d0f471bf 121',
  '16384/12': '7c51bca7a88448ab 121',
  '65536/0': '0a71a54a9daf5e97 110',
  '65536/1': 'e311ee5e94463f47 110',
  '65536/3': 'e5f5390072010e4d 110',
  '65536/4': '4f05e7a3a3c68e6c 110',
  '65536/6': '2157a7c85a3b54d0 110',
  '65536/9': 'f743a1efada54227 110',
  '65536/10': 'ccbaa325b0922a4d 110',
  '65536/12': '5baae70dd5c994d1 110',
};

test('lz4_encoder_bytes_unchanged_on_edge_inputs: levels 0-12 write the blocks main wrote (1000-byte, 4, 16 and 64 KiB pclusters)', () => {
  const files = inputs();
  const scratch = new Lz4Scratch();
  const got: Record<string, string> = {};
  for (const cap of [1000, 4096, 16384, 65536]) {
    for (const level of [0, 1, 3, 4, 6, 9, 10, 12]) got[`${cap}/${level}`] = digest(files, cap, level, scratch);
  }
  if (process.env.RECORD_LZ4_EDGE_DIGESTS) console.log(JSON.stringify(got, null, 2));
  assert.deepEqual(got, RECORDED);
});
