// Cache entries whose pclusters are left in the file (cacheGet's `trusted` path) are taken by their
// head alone, whatever its length: a header longer than the first read is read again, never parsed
// from the bytes an earlier entry left in the thread's head buffer.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { cacheGet, cachePut } from '../src/pipeline/cache/cache.js';
import type { ZResult } from '../src/pipeline/files/zfile.js';
import { close, libcAvailable } from '../src/sys/libc.js';

/** A result of `n` pclusters of one block each, filled from `seed`. */
function result(n: number, seed: number): ZResult {
  const extents = Array.from({ length: n }, (_, i) => ({ la: i * 8192, llen: 8192, compressed: true, blocks: 1, blkaddr: 0 }));
  const payloads = Array.from({ length: n }, (_, i) => new Uint8Array(4096).fill((seed + i) & 0xff));
  return { extents, payloads, totalBlocks: n };
}

test('cache entry head: long headers (many pclusters) taken unread after short ones, pclusters where the header says', { skip: !libcAvailable() && 'needs the libc bindings (koffi)' }, () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-head-'));
  try {
    // Short, long (headers of ~13 and ~20 KiB: over the first read, under and over the 16 KiB head buffer), short, long.
    const sizes = [2, 200, 3, 300];
    const stored = sizes.map((n, k) => {
      const hex = createHash('sha256').update(`entry ${k}`).digest('hex');
      assert.ok(cachePut(dir, hex, result(n, k)));
      const full = cacheGet(dir, hex);
      assert.ok('z' in full);
      return { n, k, hex, bytes: full.bytes, id: full.id };
    });
    for (const round of [0, 1]) {
      for (const e of round ? [...stored].reverse() : stored) {
        const got = cacheGet(dir, e.hex, e.bytes, e.id);
        assert.ok('z' in got, `entry ${e.k}: a hit`);
        const s = got.z.stored;
        assert.ok(s, `entry ${e.k} (${e.n} pclusters): pclusters left in the file, not read in full`);
        try {
          assert.equal(got.z.extents.length, e.n);
          const fd = s.fd;
          for (const i of [0, e.n - 1]) {
            const b = Buffer.alloc(s.lens[i]);
            fs.readSync(fd, b, 0, b.length, s.at[i]);
            assert.ok(b.equals(Buffer.alloc(4096, (e.k + i) & 0xff)), `entry ${e.k} pcluster ${i} where the header says`);
          }
        } finally {
          close(s.fd);
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
