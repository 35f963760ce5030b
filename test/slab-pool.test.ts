// Recycled result buffers (src/pipeline/files/slab-pool.ts): sizes, reuse, and what the pool refuses; and a
// compressed build whose result buffers went round trips between threads writes the same bytes as
// one on a single worker.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { takeSlab, giveSlabs, keptBytes } from '../src/pipeline/files/slab-pool.js';
import { packResult, unpackResult, transferables } from '../src/pipeline/work/job-wire.js';
import type { JobResult } from '../src/pipeline/work/job-types.js';
import { forge } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

test('takeSlab: power-of-two buffers from 4 KiB; handed-back buffers are reused by size class', () => {
  assert.equal(takeSlab(1).length, 4096);
  assert.equal(takeSlab(4097).length, 8192);
  assert.equal(takeSlab(1 << 20).length, 1 << 20);
  const a = takeSlab(100_000);
  assert.equal(a.length, 131072);
  const before = keptBytes();
  giveSlabs([a.buffer as ArrayBuffer]);
  assert.equal(keptBytes(), before + 131072);
  // The same class, or one or two up, serves a request; a smaller class never does.
  assert.equal(takeSlab(70_000).buffer, a.buffer);
  assert.equal(keptBytes(), before);
  giveSlabs([a.buffer as ArrayBuffer]);
  assert.notEqual(takeSlab(200_000).buffer, a.buffer, 'a 128 KiB buffer cannot hold 200,000 bytes');
  assert.equal(takeSlab(30_000).buffer, a.buffer, '32 KiB asked, 128 KiB (two classes up) given');
  // Foreign sizes and detached buffers are not kept.
  const kept = keptBytes();
  const detached = new ArrayBuffer(8192);
  structuredClone(detached, { transfer: [detached] });
  giveSlabs([new ArrayBuffer(5000), new ArrayBuffer(1024), detached]);
  assert.equal(keptBytes(), kept);
  // At most 4 MiB is kept.
  giveSlabs(Array.from({ length: 20 }, () => new ArrayBuffer(1 << 20)));
  assert.ok(keptBytes() <= 4 << 20, `${keptBytes()} bytes kept`);
});

test('slab pool: buffers handed back beyond what it keeps are freed at once (detached), not left to the GC', { skip: typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== 'function' && 'no ArrayBuffer.prototype.transfer' }, () => {
  // Fill the pool past its bound (4 MiB), then hand back more: those are freed, the kept ones stay usable.
  giveSlabs(Array.from({ length: 8 }, () => new ArrayBuffer(1 << 20)));
  const extra = Array.from({ length: 4 }, () => new ArrayBuffer(1 << 20));
  const odd = new ArrayBuffer(5000);
  giveSlabs([...extra, odd]);
  assert.ok(keptBytes() <= 4 << 20);
  assert.deepEqual(extra.map((b) => b.byteLength), [0, 0, 0, 0], 'freed');
  assert.equal(odd.byteLength, 0, 'a buffer of no class is freed too');
  const t = takeSlab(1 << 20);
  assert.equal(t.length, 1 << 20);
});

test('recycled result buffers: a compressed build at 2 workers (buffers handed back) equals the 1-worker build, with and without --cache', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-slab-'));
  try {
    const src = path.join(d, 'src');
    // Enough files and pclusters that buffers go back and forth many times: small batched files,
    // mid-size ones, one over a 16 MiB segment.
    for (let i = 0; i < 400; i++) {
      const dir = path.join(src, `d${i % 7}`);
      fs.mkdirSync(dir, { recursive: true });
      const n = i === 13 ? (17 << 20) : i % 9 === 0 ? 300_000 + i * 101 : (i * 1543) % 60_000;
      const half = pseudoRandom(`f${i}`, n >> 1);
      fs.writeFileSync(path.join(dir, `f${i}`), Buffer.concat([half, Buffer.from(half.toString('hex').slice(0, n - half.length))]));
    }
    const digest = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    const build = (name: string, extra: string[]) => {
      const img = path.join(d, name);
      const r = forge(['build', '--quiet', '-T0', '-Uclear', '-zlz4hc,level=1', '-C', '16384', '--xattr-inode-digest', ...extra, img, src]);
      assert.equal(r.status, 0, r.stderr);
      return digest(img);
    };
    const one = build('one.img', ['--workers', '1']);
    assert.equal(build('two.img', ['--workers', '2']), one);
    const cache = path.join(d, 'cache');
    assert.equal(build('c1.img', ['--workers', '2', '--cache', cache]), one);
    // Every entry now read from the cache (through the stat index), in recycled buffers; verify
    // decodes every file against its fingerprint (a buffer recycled too early would show as zeros).
    assert.equal(build('c2.img', ['--workers', '2', '--cache', cache]), one);
    const v = forge(['verify', path.join(d, 'c2.img')]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('compression results cross threads packed (extents and payload views as columns) and come back equal', () => {
  const slab = takeSlab(3 * 4096);
  slab.set(pseudoRandom('slab', slab.length));
  const foreign = new Uint8Array(pseudoRandom('foreign', 4096));
  const z = {
    extents: [
      { la: 0, llen: 9000, compressed: true, blocks: 1, blkaddr: 0 },
      { la: 9000, llen: 4096, compressed: false, blocks: 1, blkaddr: 0 },
      { la: 13096, llen: 2 ** 33, compressed: true, blocks: 2, blkaddr: 7 },
      { la: 2 ** 33 + 13096, llen: 100, compressed: true, blocks: 0, blkaddr: 0 },
    ],
    payloads: [slab.subarray(0, 4096), foreign, slab.subarray(4096, 3 * 4096), undefined],
    inline: new Uint8Array([1, 2, 3]), inlineRaw: new Uint8Array(100).fill(9), totalBlocks: 4,
    digest: new Uint8Array(32).fill(5), slabs: [slab.buffer as ArrayBuffer],
  };
  const want = structuredClone({ ...z, slabs: undefined });
  const res: JobResult = { kind: 'zbatch', outcomes: [{ res: { kind: 'z', z, cache: 'hit' } }, { error: 'x', user: true }] };
  const wire = packResult(res);
  // Over a real thread boundary's rules: the payload buffers are transferred, not copied.
  const list = transferables(wire);
  assert.equal(list.length, 2);
  const back = unpackResult(structuredClone(wire, { transfer: list })) as Extract<JobResult, { kind: 'zbatch' }>;
  assert.equal(slab.byteLength, 0, 'the slab was transferred');
  const got = (back.outcomes[0] as { res: { z: typeof z } }).res.z;
  assert.deepEqual(got.extents, want.extents);
  assert.deepEqual(got.payloads.map((p) => p && Buffer.from(p).toString('hex')), want.payloads.map((p) => p && Buffer.from(p).toString('hex')));
  assert.deepEqual([got.inline, got.inlineRaw, got.digest, got.totalBlocks], [want.inline, want.inlineRaw, want.digest, want.totalBlocks]);
  // Only the result's own slabs go back to the pool, never another buffer a payload sat in.
  assert.equal(got.slabs!.length, 1);
  assert.equal(got.slabs![0], got.payloads[0]!.buffer);
  assert.equal(got.payloads[2]!.buffer, got.payloads[0]!.buffer);
  assert.deepEqual(back.outcomes[1], { error: 'x', user: true });
});
