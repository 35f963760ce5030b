// --cache rebuilds that lay out unchanged files from the entry layouts the stat index keeps (heads,
// cache.ts headString) and copy their pclusters without a fetch: every rebuild is the same bytes as an
// uncached build of the same tree, whatever changed between builds (runs of unchanged files broken by
// changed ones, a deleted file, a rewrite with size and mtime put back); an entry replaced or damaged
// since its identity was recorded is found by the copy job and the build starts over without heads
// (same bytes, exact counts); a cache copied whole is found by the writer's probe before any layout.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { buildImage, cacheRestarts } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { entryFdsAdopted } from '../src/pipeline/cache/entry-fds.js';
import { libcAvailable } from '../src/sys/libc.js';
import { cacheGet, cachePut, ENTRY_CHANGED, headString, resultOfHead } from '../src/pipeline/cache/cache.js';
import { JobPool } from '../src/pipeline/work/pool.js';
import { wordText } from './helpers/noise.js';

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WORDS = ['erofs', 'forge', 'pcluster', 'inode', 'block', 'head'];
/** Files, in visit order (names sort so): more than the probe's stride (64), so most are not probed. */
const N = 90;
const name = (i: number) => `f${String(i).padStart(3, '0')}`;

function keyOf(cache: string, file: string): string {
  const b = fs.readFileSync(path.join(cache, 'index'));
  const body = JSON.parse(b.toString('utf8', b.indexOf(10, 9) + 1)) as { files: string[][] };
  const row = body.files.find((r) => r[0].endsWith(`/${file}`));
  assert.ok(row, `${file} in the index`);
  return row[3];
}
const entryOf = (cache: string, key: string) => path.join(cache, key.slice(0, 2), key);

test('cache_heads_rebuilds_same_bytes_as_uncached', { skip: !libcAvailable() && 'needs the libc bindings (koffi)' }, async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-heads-'));
  try {
    const root = path.join(dir, 'src');
    fs.mkdirSync(root);
    for (let i = 0; i < N; i++) fs.writeFileSync(path.join(root, name(i)), wordText(6000 + i * 977, i, WORDS, 40));
    for (let i = 0; i < N; i += 7) fs.utimesSync(path.join(root, name(i)), 1_600_000_000, 1_600_000_000);
    const o = (cache?: string) => defaultBuildOptions({
      uuid: new Uint8Array(16), timestamp: 1700000000n, allRoot: true, workers: 2,
      compression: { codec: parseCompressor('lz4hc'), pclusterSize: 16384, ztailpacking: false, dedupe: false, legacyIndexes: false },
      ...(cache ? { cacheDir: cache } : {}),
    });
    let n = 0;
    /** A cached build and an uncached one of the tree as it is now: the same bytes. */
    const build = async (cache: string) => {
      const img = path.join(dir, `c${n}.img`);
      const plainImg = path.join(dir, `p${n++}.img`);
      const fds = entryFdsAdopted();
      const restarts = cacheRestarts();
      // The entry path: no old image to copy from (that path: cache-old-image.test.ts).
      fs.rmSync(path.join(cache, 'image'), { force: true });
      const r = await buildImage(img, { dir: root }, o(cache));
      await buildImage(plainImg, { dir: root }, o());
      assert.equal(sha(img), sha(plainImg), `build ${n - 1}: same bytes as uncached`);
      return { cache: r.cache!, fetched: entryFdsAdopted() - fds, restarts: cacheRestarts() - restarts };
    };
    // Stats and entry identities are recorded only once their ctime is over a second old.
    await sleep(1100);
    const cache = path.join(dir, 'cache');
    assert.deepEqual((await build(cache)).cache, { hit: 0, indexed: 0, absent: N, damaged: 0 });
    await sleep(1100);
    // Entries verified in full: identities and heads recorded; then unread (kernel copies), then from heads.
    assert.deepEqual((await build(cache)).cache, { hit: N, indexed: N, absent: 0, damaged: 0 });
    await build(cache);
    const heads = await build(cache);
    assert.deepEqual(heads, { cache: { hit: N, indexed: N, absent: 0, damaged: 0 }, fetched: 0, restarts: 0 }, 'every file laid out from its head, no fetch');

    // Changed files between runs of unchanged ones (one in the middle of a run, the first, the last);
    // a deleted file; a rewrite with size and mtime put back (only its ctime tells).
    for (const i of [0, 40, 41, 63, N - 1]) fs.appendFileSync(path.join(root, name(i)), 'changed\n');
    fs.rmSync(path.join(root, name(20)));
    const same = path.join(root, name(28));
    const old = fs.readFileSync(same);
    fs.writeFileSync(same, Buffer.from(old.toString().replace(/erofs/, 'EROFS')));
    fs.utimesSync(same, 1_600_000_000, 1_600_000_000);
    assert.equal(fs.statSync(same).size, old.length);
    const changed = await build(cache);
    assert.deepEqual(changed.cache, { hit: N - 7, indexed: N - 7, absent: 6, damaged: 0 });
    assert.equal(changed.restarts, 0);

    await sleep(1100);
    await build(cache);
    await build(cache);
    // An entry replaced by an identical copy (another inode), and one damaged in place, neither probed
    // (the probe checks files 0, 64, ...): found by the copy job, the build starts over.
    const live = fs.readdirSync(root).sort();
    const replaced = entryOf(cache, keyOf(cache, live[10]));
    fs.copyFileSync(replaced, `${replaced}.copy`);
    fs.renameSync(`${replaced}.copy`, replaced);
    const damaged = entryOf(cache, keyOf(cache, live[50]));
    const b = fs.readFileSync(damaged);
    b[b.length >> 1] ^= 0x10;
    fs.writeFileSync(damaged, b);
    const over = await build(cache);
    assert.equal(over.restarts, 1);
    assert.deepEqual(over.cache, { hit: N - 2, indexed: N - 2, absent: 0, damaged: 1 });

    // A cache copied whole (every entry a new inode): the probe finds it before any layout, no restart.
    await sleep(1100);
    await build(cache);
    await build(cache);
    const copy = path.join(dir, 'cache-copy');
    fs.cpSync(cache, copy, { recursive: true });
    const copied = await build(copy);
    assert.equal(copied.restarts, 0);
    assert.deepEqual(copied.cache, { hit: N - 1, indexed: N - 1, absent: 0, damaged: 0 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cache heads: a layout read back as it was written; inline tails, fragments and malformed heads give none', () => {
  const extents = [
    { la: 0, llen: 9000, compressed: true, blocks: 1, blkaddr: 0 },
    { la: 9000, llen: 8192, compressed: false, blocks: 2, blkaddr: 0 },
    { la: 17192, llen: 30000, compressed: true, blocks: 3, blkaddr: 0, partial: true },
  ];
  const payloads = [new Uint8Array(4096), new Uint8Array(8192), new Uint8Array(12288)];
  const head = headString({ extents, payloads, totalBlocks: 6 }, 300);
  assert.equal(head, 'h1:6:300:4096:9000b1,8192a2,30000d3');
  const z = resultOfHead(head!, 'k', 'id');
  assert.ok(z?.stored);
  assert.deepEqual(z.extents, extents);
  assert.equal(z.totalBlocks, 6);
  assert.deepEqual([...z.stored.at], [300, 300 + 4096, 300 + 4096 + 8192]);
  assert.deepEqual([...z.stored.lens], [4096, 8192, 12288]);
  assert.deepEqual(z.stored.entry, { key: 'k', id: 'id' });
  assert.equal(headString({ extents, payloads, totalBlocks: 6, inline: new Uint8Array(10) }, 300), undefined);
  assert.equal(headString({ extents: [...extents, { la: 47192, llen: 5, compressed: true, blocks: 0, blkaddr: 0, fragment: true }], payloads: [...payloads, undefined], totalBlocks: 6 }, 300), undefined);
  // A pcluster that does not fill its blocks, extents not back to back: no head.
  assert.equal(headString({ extents, payloads: [new Uint8Array(4000), payloads[1], payloads[2]], totalBlocks: 6 }, 300), undefined);
  assert.equal(headString({ extents: [extents[0], { ...extents[1], la: 9001 }, extents[2]], payloads, totalBlocks: 6 }, 300), undefined);
  for (const bad of ['', 'h1:', 'h2:6:300:4096:9000b1', 'h1:6:300:0:9000b1', 'h1:6:300:4096:', 'h1:6:300:4096:9000e1', 'h1:6:300:4096:9000b1,', 'h1:6:300:4096:9000b1;1a1', 'h1:x:300:4096:9000b1']) {
    assert.equal(resultOfHead(bad, 'k', 'id'), undefined, JSON.stringify(bad));
  }
});

test('cache_pcluster_copies_on_main_thread: queued copies of named entries run by the writer write what a worker writes; a changed entry fails as in a worker', { skip: !libcAvailable() && 'needs the libc bindings (koffi)' }, async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-kcopy-main-'));
  const pool = new JobPool(1);
  try {
    const cache = path.join(dir, 'cache');
    // 12 entries of 2 pclusters each, more copy jobs than the worker takes ahead.
    const made = Array.from({ length: 12 }, (_, k) => {
      const key = createHash('sha256').update(`entry ${k}`).digest('hex');
      const payloads = [Buffer.alloc(4096, 2 * k + 1), Buffer.alloc(8192, 2 * k + 2)];
      const extents = [{ la: 0, llen: 9000, compressed: true, blocks: 1, blkaddr: 0 }, { la: 9000, llen: 8192, compressed: false, blocks: 2, blkaddr: 0 }];
      assert.ok(cachePut(cache, key, { extents, payloads, totalBlocks: 3 }));
      const got = cacheGet(cache, key);
      assert.ok('z' in got && got.head);
      const z = resultOfHead(got.head, key, got.id);
      assert.ok(z?.stored?.entry);
      return { key, id: got.id, stored: z.stored, bytes: Buffer.concat(payloads) };
    });
    const img = path.join(dir, 'img');
    fs.writeFileSync(img, Buffer.alloc(12 * 12288));
    const job = (k: number, id = made[k].id) => ({
      kind: 'kcopy' as const, image: img, close: [],
      runs: Float64Array.from([-1, made[k].stored.at[0], 12288, k * 12288]),
      named: { cacheDir: cache, keys: made[k].key, ids: id },
    });
    const runs = made.map((_, k) => pool.run(job(k)));
    let here = 0;
    while (pool.runQueuedCopy()) here++;
    assert.ok(here > 0, 'some copies were still queued and ran here');
    await Promise.all(runs);
    const image = fs.readFileSync(img);
    made.forEach((m, k) => assert.ok(image.subarray(k * 12288, (k + 1) * 12288).equals(m.bytes), `entry ${k}`));
    // An identity the entry no longer has: the copy fails with ENTRY_CHANGED (build.ts starts over on it).
    const failing = made.map((_, k) => pool.run(job(k, `${made[k].id}0`)));
    for (const f of failing) f.catch(() => {});
    while (pool.runQueuedCopy());
    for (const f of failing) await assert.rejects(f, (e: Error) => e.message.includes(ENTRY_CHANGED));
  } finally {
    await pool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
