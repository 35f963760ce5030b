// --cache rebuilds that copy unchanged files' pclusters from the image the last build wrote (old-image.ts):
// every rebuild is the same bytes as an uncached build of the same tree; the old image is used only
// while it is the file recorded (rewritten in place, even at once after the build, truncated, moved,
// replaced by a copy: each falls back to the entries, same bytes); a changed file between unchanged ones
// breaks the runs without changing the bytes.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { buildImage, cacheRestarts } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { libcAvailable } from '../src/sys/libc.js';
import { segmentsFromImage } from '../src/pipeline/work/file-jobs.js';
import { imageHead, resultOfHead } from '../src/pipeline/cache/cache.js';
import { wordText } from './helpers/noise.js';

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WORDS = ['erofs', 'forge', 'pcluster', 'inode', 'block', 'image'];
const N = 40;
const name = (i: number) => `f${String(i).padStart(3, '0')}`;

test('cache_old_image_copies_same_bytes_and_falls_back_when_changed', { skip: !libcAvailable() && 'needs the libc bindings (koffi)' }, async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-oldimg-'));
  try {
    const root = path.join(dir, 'src');
    fs.mkdirSync(root);
    // Compressed files between small flat ones: the old image's runs are broken by data copied from the source.
    for (let i = 0; i < N; i++) {
      fs.writeFileSync(path.join(root, name(i)), wordText(6000 + i * 1777, i, WORDS, 40));
      if (i % 5 === 0) fs.writeFileSync(path.join(root, `${name(i)}s`), `small ${i}\n`);
    }
    const cache = path.join(dir, 'cache');
    const o = (withCache: boolean) => defaultBuildOptions({
      uuid: new Uint8Array(16), timestamp: 1700000000n, allRoot: true, workers: 2,
      compression: { codec: parseCompressor('lz4hc'), pclusterSize: 16384, ztailpacking: false, dedupe: false, legacyIndexes: false },
      ...(withCache ? { cacheDir: cache } : {}),
    });
    const img = path.join(dir, 'out.img');
    let n = 0;
    /** A cached build into `out` and an uncached one of the tree as it is now: the same bytes. */
    const build = async (out = img) => {
      const plain = path.join(dir, `p${n++}.img`);
      const before = segmentsFromImage();
      const restarts = cacheRestarts();
      const r = await buildImage(out, { dir: root }, o(true));
      await buildImage(plain, { dir: root }, o(false));
      assert.equal(sha(out), sha(plain), `build ${n - 1}: same bytes as uncached`);
      fs.rmSync(plain);
      return { cache: r.cache!, fromImage: segmentsFromImage() - before, restarts: cacheRestarts() - restarts };
    };
    // Stats are recorded only once their ctime is over a second old (cache-index.ts).
    await sleep(1100);
    assert.equal((await build()).fromImage, 0);
    const warm = await build();
    assert.equal(warm.fromImage, N, 'every file copied from the old image');
    const rec = JSON.parse(fs.readFileSync(path.join(cache, 'image'), 'utf8')) as { path: string };
    assert.equal(rec.path, img);
    // The image's mtime is the build's start, before its ctime (the trust rule).
    assert.ok(fs.statSync(img, { bigint: true }).mtimeNs < fs.statSync(img, { bigint: true }).ctimeNs);

    // Changed files: the first, one in the middle, the last; the rest still from the old image.
    for (const i of [0, 17, N - 1]) fs.appendFileSync(path.join(root, name(i)), 'changed\n');
    const changed = await build();
    assert.equal(changed.fromImage, N - 3);
    assert.deepEqual(changed.cache, { hit: N - 3, indexed: N - 3, absent: 3, damaged: 0 });
    // Recompressed files are placed in the new image: the next build copies all of them from it.
    await sleep(1100);
    await build();
    assert.equal((await build()).fromImage, N);

    /** Rewrite bytes of the old image in place (its size kept), at once after the build. */
    const scribble = (at: number) => {
      const fd = fs.openSync(img, 'r+');
      try {
        fs.writeSync(fd, Buffer.from('scribbled'), 0, 9, at);
      } finally {
        fs.closeSync(fd);
      }
    };
    // Rewritten in a data block (its mtime becomes the time of that write): not trusted, entries used.
    scribble(Math.floor(fs.statSync(img).size / 2));
    assert.deepEqual(await build().then((r) => [r.fromImage, r.restarts]), [0, 0]);
    // ... and rewritten by the next build: trusted again.
    assert.equal((await build()).fromImage, N);
    // Rewritten with its mtime put back: the ctime tells.
    const st = fs.statSync(img);
    scribble(st.size - 4096);
    fs.utimesSync(img, st.atime, st.mtime);
    assert.equal((await build()).fromImage, 0);
    assert.equal((await build()).fromImage, N);
    // Truncated.
    fs.truncateSync(img, fs.statSync(img).size - 4096);
    assert.equal((await build()).fromImage, 0);
    assert.equal((await build()).fromImage, N);
    // Moved away: the build into another file finds no old image; moved back (a new ctime): none either.
    const moved = path.join(dir, 'moved.img');
    fs.renameSync(img, moved);
    assert.equal((await build(path.join(dir, 'other.img'))).fromImage, 0);
    fs.renameSync(moved, path.join(dir, 'back.img'));
    assert.equal((await build(path.join(dir, 'other2.img'))).fromImage, N, 'the image just written is the old image now');
    // Replaced by a copy of itself (another inode).
    const other2 = path.join(dir, 'other2.img');
    fs.copyFileSync(other2, `${other2}.copy`);
    fs.renameSync(`${other2}.copy`, other2);
    assert.equal((await build(path.join(dir, 'other3.img'))).fromImage, 0);
    // A record naming another token than the index's (an index written by a build that did not record its image).
    assert.equal((await build()).fromImage, N);
    const recFile = path.join(cache, 'image');
    const r0 = JSON.parse(fs.readFileSync(recFile, 'utf8')) as { token: string };
    fs.writeFileSync(recFile, JSON.stringify({ ...r0, token: '0000000000000000' }));
    assert.equal((await build()).fromImage, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cache old image heads: where a file went in the image, read back; pclusters apart give none', () => {
  const extents = [
    { la: 0, llen: 9000, compressed: true, blocks: 1, blkaddr: 100 },
    { la: 9000, llen: 8192, compressed: false, blocks: 2, blkaddr: 101 },
  ];
  const head = imageHead({ extents, payloads: [], totalBlocks: 3 }, 4096);
  assert.equal(head, `h1:3:${100 * 4096}:4096:9000b1,8192a2`);
  const img = { path: '/x', id: '1:2:3:4:5' };
  const z = resultOfHead(head!, img);
  assert.deepEqual([...z!.stored!.at], [100 * 4096, 101 * 4096]);
  assert.deepEqual(z!.stored!.image, img);
  assert.equal(z!.stored!.entry, undefined);
  assert.equal(imageHead({ extents: [extents[0], { ...extents[1], blkaddr: 102 }], payloads: [], totalBlocks: 3 }, 4096), undefined);
  assert.equal(imageHead({ extents, payloads: [], totalBlocks: 3, inline: new Uint8Array(5) }, 4096), undefined);
});
