// Small builds run their file jobs on the main thread (JobPool.inlineBudget, build.ts inlineBudgetFor):
// a worker costs ~40-75 ms of CPU to start, more than all the work of a small tree. The image must
// be the same bytes whichever thread ran the jobs: one built with every job on the main thread and
// one built by workers are compared here for each kind of job (copies, hashes, compression batches,
// single segments of large files, cache lookups), then checked by fsck.erofs and a mount.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { buildImage, inlineBudgetFor } from '../src/pipeline/build.js';
import { defaultBuildOptions, type BuildOptions, type CompressionOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { JobPool } from '../src/pipeline/work/pool.js';
import { DEFAULT_FINGERPRINT_NAME } from '../src/index.js';
import { mulberry32, noise, wordText } from './helpers/noise.js';
import { findTool, needTool, needRoot, run } from './helpers/tools.js';
import { withMount } from './helpers/mount.js';

const WORDS = ['erofs', 'forge', 'inline', 'worker', 'block', 'tail', 'fragment', 'dedupe'];

/** Files of every size class the jobs split on (flat, batched, one segment), links and an empty file. */
function makeTree(root: string): void {
  const rnd = mulberry32(5);
  for (const d of ['a', 'b/c', 'z']) fs.mkdirSync(path.join(root, d), { recursive: true });
  const dirs = ['', 'a', 'b', 'b/c', 'z'];
  for (let i = 0; i < 60; i++) {
    const size = [0, 100, 3000, 4096, 5000, 9000, 20000, 70000][rnd() % 8];
    fs.writeFileSync(path.join(root, dirs[i % dirs.length], `f${i}`), i % 5 === 0 ? noise(size, i) : wordText(size, i % 9, WORDS, 60));
  }
  // Over the batched size (256 KiB): a 'z' job of its own.
  fs.writeFileSync(path.join(root, 'big'), wordText(700_000, 3, WORDS, 80));
  fs.linkSync(path.join(root, 'big'), path.join(root, 'a', 'big-link'));
  fs.symlinkSync('../big', path.join(root, 'z', 'sym'));
}

const FINGERPRINT = { fingerprint: { name: Buffer.from(DEFAULT_FINGERPRINT_NAME), scheme: 'sha256' as const } };

const MODES: Record<string, (cache: string) => Partial<BuildOptions>> = {
  uncompressed: () => ({}),
  'uncompressed, fingerprints': () => FINGERPRINT,
  'lz4, fingerprints': () => ({ ...FINGERPRINT, compression: z({ codec: parseCompressor('lz4') }) }),
  'lz4hc, -C 16k, ztailpacking, dedupe': () => ({ compression: z({ codec: parseCompressor('lz4hc'), pclusterSize: 16384, ztailpacking: true, dedupe: true }) }),
  'deflate, fragments': () => ({ compression: z({ codec: parseCompressor('deflate'), pclusterSize: 65536, fragments: { all: false, dedupe: 'full', packedPclusterSize: 65536 } }) }),
  'lz4, --cache': (cache) => ({ cacheDir: cache, compression: z({ codec: parseCompressor('lz4') }) }),
};

function z(c: Partial<CompressionOptions>): CompressionOptions {
  return { codec: parseCompressor('lz4'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false, ...c };
}

function options(over: Partial<BuildOptions>): BuildOptions {
  return defaultBuildOptions({ uuid: new Uint8Array(16), timestamp: 1700000000n, allRoot: true, workers: 2, ...over });
}

test('inline_jobs_same_image: every job on the main thread gives the bytes the workers give, for each kind of job', async (t) => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-inline-'));
  try {
    const src = path.join(d, 'src');
    makeTree(src);
    const fsck = findTool('fsck.erofs');
    for (const [mode, over] of Object.entries(MODES)) {
      const images: Record<string, Buffer> = {};
      for (const inline of [true, false]) {
        // A cache of its own per build: the second build must not find the first one's entries.
        const cache = path.join(d, `cache-${inline}`);
        const img = path.join(d, `${inline ? 'inline' : 'workers'}.img`);
        await buildImage(img, { dir: src }, options(over(cache)), undefined, { inline });
        images[String(inline)] = fs.readFileSync(img);
      }
      assert.ok(images.true.equals(images.false), `${mode}: the image built on the main thread differs from the workers' one`);
      // The cache filled by the main thread's jobs serves a rebuild by the workers, and the other way round.
      if (mode === 'lz4, --cache') {
        for (const [inline, cache] of [[false, 'cache-true'], [true, 'cache-false']] as const) {
          const img = path.join(d, 'rebuild.img');
          await buildImage(img, { dir: src }, options({ ...over(path.join(d, cache)) }), undefined, { inline });
          assert.ok(fs.readFileSync(img).equals(images.true), `${mode}: rebuild (inline ${inline}) from the other's cache`);
        }
      }
      fs.writeFileSync(path.join(d, 'inline.img'), images.true);
      if (fsck && needTool(t, fsck, 'fsck.erofs')) {
        const r = run(fsck, ['--extract', path.join(d, 'inline.img')]);
        assert.equal(r.status, 0, `${mode}: fsck.erofs: ${r.stderr}${r.stdout}`);
      }
    }
    // The last image (lz4, --cache) mounted: the kernel reads back the big file and a small one.
    if (needRoot(t)) {
      await withMount(path.join(d, 'inline.img'), (mnt) => {
        for (const f of ['big', 'a/big-link', 'b/f2', 'z/f4']) {
          assert.ok(fs.readFileSync(path.join(mnt, f)).equals(fs.readFileSync(path.join(src, f))), `mounted ${f}`);
        }
      });
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('small_build_starts_no_worker: work within the budget runs here; work beyond it, or a walk that proves big, starts the workers', async () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-inline-pool-'));
  const pools: JobPool[] = [];
  try {
    const f = path.join(d, 'f');
    fs.writeFileSync(f, wordText(10000, 1, WORDS, 40));
    const hash = { kind: 'hash' as const, src: { type: 'path' as const, path: Buffer.from(f) }, path: f, size: 10000, algo: 'sha256' as const };
    // Within the budget: queued until the work to come is known, then run here.
    const small = new JobPool(2, { inlineBudget: 1 << 20 });
    pools.push(small);
    const pr = small.run(hash);
    assert.equal(small.started, 0, 'no worker while the work to come is not known');
    small.expect(10000);
    const r1 = await pr;
    const r2 = await small.run(hash);
    assert.equal(small.started, 0, 'no worker for a small build');
    assert.deepEqual(r1, r2);
    // Beyond it: the workers start and run the queue.
    const big = new JobPool(2, { inlineBudget: 1 << 20 });
    pools.push(big);
    const pb = big.run(hash);
    big.expect(4 << 20);
    assert.equal(big.started, 2);
    assert.deepEqual(await pb, r1, 'a worker hashes as the main thread does');
    // Queued work past the budget starts them before the plan.
    const queued = new JobPool(2, { inlineBudget: 15000 });
    pools.push(queued);
    void queued.run(hash);
    assert.equal(queued.started, 0);
    const pq = queued.run(hash);
    assert.equal(queued.started, 2, 'the second job passed the budget');
    assert.deepEqual(await pq, r1);
    // A walk lister asks for the workers (a tree of many directories).
    const walk = new JobPool(1, { inlineBudget: 1 << 20 });
    pools.push(walk);
    walk.warm();
    assert.equal(walk.started, 1);
    // A job failing here fails as in a worker: one user error line naming the file.
    const failing = new JobPool(2, { inline: true });
    pools.push(failing);
    failing.expect(0);
    fs.rmSync(f);
    await assert.rejects(failing.run(hash), (e: Error) => e.constructor.name === 'UserError' && e.message.includes(f));
    assert.equal(failing.started, 0);
    // Every budget lets a fixtures-sized build (~70 KB) run here.
    for (const o of [{}, FINGERPRINT, ...Object.values(MODES).map((m) => m(d))]) assert.ok(inlineBudgetFor(options(o)) >= 256 << 10);
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    fs.rmSync(d, { recursive: true, force: true });
  }
});
