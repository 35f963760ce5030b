// Fresh pages a thread is about to write are mapped in one madvise(MADV_POPULATE_WRITE) call
// (sys/prefault.ts), not one fault per page: the held chunks of compressed payloads and the growth of
// the compression window. Only whole pages inside the range, never twice for the same window, and the
// bytes already there are kept.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir, release } from 'node:os';
import { prefault, prefaultedPages } from '../src/sys/prefault.js';
import { addressOf, libcAvailable } from '../src/sys/libc.js';
import { chunkTake, chunkRelease, CHUNK_BYTES, KEEP_CHUNKS } from '../src/pipeline/files/held-chunks.js';
import { compressJob } from '../src/pipeline/work/job-compress.js';
import type { ZJob, ZJobParams } from '../src/pipeline/work/job-types.js';

/** MADV_POPULATE_WRITE is in Linux 5.14 and later. */
const populates = process.platform === 'linux' && libcAvailable() && (() => {
  const [major, minor] = release().split('.').map(Number);
  return major > 5 || (major === 5 && minor >= 14);
})();

test('prefault_whole_pages_of_fresh_buffers: the whole pages inside the range, bytes kept', () => {
  const b = new Uint8Array(1 << 20);
  b[5000] = 7;
  b[(1 << 20) - 1] = 9;
  const at = addressOf(b);
  const from = 100;
  const to = b.length - 100;
  const whole = Math.floor((at + to) / 4096) - Math.ceil((at + from) / 4096);
  const before = prefaultedPages();
  prefault(b, from, to);
  assert.equal(prefaultedPages() - before, populates ? whole : 0);
  assert.equal(b[5000], 7);
  assert.equal(b[(1 << 20) - 1], 9);
  // A range of less than two pages may hold no whole page: nothing asked.
  const n = prefaultedPages();
  prefault(b, 0, 8000);
  assert.equal(prefaultedPages(), n);
});

test('held_chunk_prefaulted_when_fresh: a new chunk is mapped in one call, a reused one is not', () => {
  // Spare chunks first (up to KEEP_CHUNKS are kept): take enough that a fresh one is made.
  const uses: ArrayBuffer[][] = [];
  const before = prefaultedPages();
  for (let i = 0; i <= KEEP_CHUNKS + 1; i++) {
    const use: ArrayBuffer[] = [];
    chunkTake(CHUNK_BYTES, use);
    uses.push(use);
  }
  const fresh = prefaultedPages() - before;
  if (populates) assert.ok(fresh >= 255, `a fresh 1 MiB chunk prefaulted (${fresh} pages)`);
  else assert.equal(fresh, 0);
  for (const u of uses) chunkRelease(u);
  // Released, then taken again: the kept chunks are reused, their pages already there.
  const again = prefaultedPages();
  const use: ArrayBuffer[] = [];
  chunkTake(CHUNK_BYTES, use);
  chunkRelease(use);
  assert.equal(prefaultedPages(), again);
});

test('window_prefaulted_once: the compression window is prefaulted as reads first reach it, not again', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-prefault-'));
  try {
    const size = 3 << 20;
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 9)) & 0xff;
    const file = path.join(d, 'f');
    fs.writeFileSync(file, bytes);
    const params: ZJobParams = { codec: { name: 'lz4' }, blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false };
    const job: ZJob = { kind: 'z', path: file, size, start: 0, length: size, params };
    const before = prefaultedPages();
    const first = compressJob(job).z;
    const once = prefaultedPages() - before;
    if (populates) assert.ok(once >= (size >> 12) - 2, `the window's ${size >> 12} pages prefaulted (${once})`);
    else assert.equal(once, 0);
    const mark = prefaultedPages();
    const second = compressJob(job).z;
    // The same window, already read into as far: no page asked again (results hold slabs, not chunks).
    assert.equal(prefaultedPages(), mark);
    assert.deepEqual(second.extents, first.extents);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
