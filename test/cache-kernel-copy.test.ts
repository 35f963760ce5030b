// --cache rebuilds whose pclusters are copied from the entry files into the image in the kernel,
// unread (cacheGet's `trusted` path): only entries whose identity is the one they had when a build
// verified their checksum; the image is the same bytes as an uncached build, to a file on the same
// filesystem (copy_file_range) or another one (sendfile); an entry written since is read and checked
// in full, so a damaged one is rebuilt, never copied.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { entryFdsAdopted } from '../src/pipeline/cache/entry-fds.js';
import { segmentsFromHeads } from '../src/pipeline/work/file-jobs.js';
import { noise, wordText } from './helpers/noise.js';

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WORDS = ['erofs', 'forge', 'pcluster', 'inode', 'block', 'tail'];

/** The entries of the file 'big', from the stat index. */
function bigEntries(cache: string): string[] {
  const b = fs.readFileSync(path.join(cache, 'index'));
  const body = JSON.parse(b.toString('utf8', b.indexOf(10, 9) + 1)) as { files: string[][] };
  const row = body.files.find((r) => r[0].endsWith('/big'));
  assert.ok(row);
  return row[3].split(',').map((k) => path.join(cache, k.slice(0, 2), k));
}

test('cached rebuild: pclusters copied unread from verified entries (kernel copy) give the same bytes; an entry changed since is checked in full', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-kcopy-'));
  const shm = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/forge-cache-kcopy-') : undefined;
  try {
    const root = path.join(dir, 'src');
    fs.mkdirSync(root);
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(root, `t${i}`), wordText(3000 + i * 4111, i, WORDS, 50));
    // Several segments (16 MiB each), incompressible and compressible parts: stored and compressed pclusters.
    fs.writeFileSync(path.join(root, 'big'), Buffer.concat([noise(9 << 20, 5), wordText(9 << 20, 6, WORDS, 70)]));
    const o = (cache?: string) => defaultBuildOptions({
      uuid: new Uint8Array(16), timestamp: 1700000000n, allRoot: true, workers: 2,
      compression: { codec: parseCompressor('lz4hc'), pclusterSize: 16384, ztailpacking: true, dedupe: false, legacyIndexes: false },
      ...(cache ? { cacheDir: cache } : {}),
    });
    // Stats and entry identities are recorded only once their ctime is over a second old (cache-index.ts).
    await sleep(1100);
    const cache = path.join(dir, 'cache');
    const build = async (name: string, cache?: string, where = dir) => {
      const img = path.join(where, `${name}.img`);
      // Unread: fetched with the entry left open, or laid out from the index's head (cache-heads.test.ts).
      const before = entryFdsAdopted() + segmentsFromHeads();
      // The entry path: no old image to copy from (that path: cache-old-image.test.ts).
      if (cache) fs.rmSync(path.join(cache, 'image'), { force: true });
      const r = await buildImage(img, { dir: root }, o(cache));
      return { img, cache: r.cache, unread: entryFdsAdopted() + segmentsFromHeads() - before };
    };
    const plain = await build('plain');
    const segs = 30 + 2;
    const first = await build('first', cache);
    assert.deepEqual(first.cache, { hit: 0, indexed: 0, absent: segs, damaged: 0 });
    await sleep(1100);
    // Entries verified in full (their checksum), and their identities recorded.
    const second = await build('second', cache);
    assert.deepEqual(second.cache, { hit: segs, indexed: segs, absent: 0, damaged: 0 });
    assert.equal(second.unread, 0);
    assert.equal(sha(second.img), sha(plain.img));
    // Now copied unread, to this filesystem and (sendfile) another.
    for (const where of [dir, ...(shm ? [shm] : [])]) {
      const third = await build('third', cache, where);
      assert.deepEqual(third.cache, { hit: segs, indexed: segs, absent: 0, damaged: 0 });
      assert.equal(third.unread, segs, `pclusters copied unread (${where})`);
      assert.equal(sha(third.img), sha(plain.img), `same bytes (${where})`);
    }
    // An entry damaged in place (its ctime moves): read and checked in full, found damaged, rebuilt.
    // An entry replaced by an identical copy (another inode): checked in full, reused. Both of the
    // big file (several segments: fetched, never laid out from a head).
    const files = bigEntries(cache);
    const b = fs.readFileSync(files[0]);
    b[b.length >> 1] ^= 0x10;
    fs.writeFileSync(files[0], b);
    fs.copyFileSync(files[1], `${files[1]}.copy`);
    fs.renameSync(`${files[1]}.copy`, files[1]);
    const fourth = await build('fourth', cache);
    assert.deepEqual(fourth.cache, { hit: segs - 1, indexed: segs - 1, absent: 0, damaged: 1 });
    assert.equal(fourth.unread, segs - 2);
    assert.equal(sha(fourth.img), sha(plain.img));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    if (shm) fs.rmSync(shm, { recursive: true, force: true });
  }
});

test('stat index of the previous version (EFINDEX1, no entry identities) is started afresh, not misread', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-v1-'));
  try {
    const root = path.join(dir, 'src');
    fs.mkdirSync(root);
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(root, `t${i}`), wordText(20000 + i * 999, i, WORDS, 40));
    await sleep(1100);
    const cache = path.join(dir, 'cache');
    const o = defaultBuildOptions({ uuid: new Uint8Array(16), timestamp: 1700000000n, allRoot: true, workers: 2, cacheDir: cache,
      compression: { codec: parseCompressor('lz4hc'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false } });
    const plain = path.join(dir, 'plain.img');
    await buildImage(plain, { dir: root }, { ...o, cacheDir: undefined });
    await buildImage(path.join(dir, 'first.img'), { dir: root }, o);
    // The same records as version 1 wrote them: rows of 8 columns, under its magic.
    const indexFile = path.join(cache, 'index');
    const text = fs.readFileSync(indexFile, 'utf8');
    const body = JSON.parse(text.slice(text.indexOf('\n', 9) + 1)) as { files: unknown[][] };
    body.files = body.files.map((r) => r.slice(0, 8));
    const b1 = JSON.stringify(body);
    fs.writeFileSync(indexFile, `EFINDEX1\n${createHash('sha256').update(b1).digest('hex')}\n${b1}`);
    const img = path.join(dir, 'again.img');
    const r = await buildImage(img, { dir: root }, o);
    assert.deepEqual(r.cache, { hit: 5, indexed: 0, absent: 0, damaged: 0 });
    assert.equal(sha(img), sha(plain));
    assert.equal(fs.readFileSync(indexFile, 'latin1').slice(0, 9), 'EFINDEX2\n');
    const next = await buildImage(img, { dir: root }, o);
    assert.equal(next.cache?.indexed, 5);
    assert.equal(sha(img), sha(plain));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
