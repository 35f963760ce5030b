// The overlapped pipeline: compression jobs start while the scan walks (FileJobQueue.found), the
// scan going in the writer's visit order whatever order readdir gives. The image must not depend on
// that: the same bytes for 1, 2 and 4 workers, for readdir orders as given, reversed and shuffled,
// and as a build of an already scanned tree (whose jobs start only once the plan is made).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions, type BuildOptions, type CompressionOptions } from '../src/pipeline/options.js';
import { scanDirectory } from '../src/source/dir-scanner.js';
import { parseCompressor } from '../src/compress/codec.js';
import { DEFAULT_FINGERPRINT_NAME } from '../src/index.js';
import { mulberry32, noise, wordText } from './helpers/noise.js';

const WORDS = ['erofs', 'forge', 'pcluster', 'inode', 'block', 'tail', 'fragment', 'dedupe'];

/**
 * Over 256 compressible files (more than the files in flight at once) in nested directories, with
 * hard links whose first name in visit order is not the first readdir would give, empty files,
 * incompressible ones, duplicates (dedupe, fragments) and a file of many pclusters.
 */
function makeTree(root: string): void {
  const rnd = mulberry32(21);
  for (const d of ['a', 'b/c', 'b/d/e', 'z', 'm']) fs.mkdirSync(path.join(root, d), { recursive: true });
  const dirs = ['', 'a', 'b', 'b/c', 'b/d', 'b/d/e', 'z', 'm'];
  for (let i = 0; i < 300; i++) {
    const dir = dirs[i % dirs.length];
    const size = [0, 100, 3000, 4096, 5000, 9000, 20000, 70000][rnd() % 8];
    const data = i % 7 === 0 ? noise(size, i) : wordText(size, i % 40, WORDS, 60);
    fs.writeFileSync(path.join(root, dir, `f${(i * 7919) % 1000}`), data);
  }
  fs.writeFileSync(path.join(root, 'm', 'big'), wordText(1_500_000, 5, WORDS, 80));
  // Files found later in visit order than their links' names.
  fs.writeFileSync(path.join(root, 'z', 'linked'), wordText(30000, 7, WORDS, 50));
  fs.writeFileSync(path.join(root, 'b', 'd', 'e', 'linked'), wordText(9000, 8, WORDS, 50));
  fs.linkSync(path.join(root, 'z', 'linked'), path.join(root, 'a', 'zz-link'));
  fs.linkSync(path.join(root, 'b', 'd', 'e', 'linked'), path.join(root, 'a-link'));
}

const FINGERPRINT = { fingerprint: { name: Buffer.from(DEFAULT_FINGERPRINT_NAME), scheme: 'sha256' as const } };

const MODES: Record<string, Partial<CompressionOptions>> = {
  'lz4, fingerprints': { codec: parseCompressor('lz4') },
  'lz4hc, -C 16k, ztailpacking, dedupe': { codec: parseCompressor('lz4hc'), pclusterSize: 16384, ztailpacking: true, dedupe: true },
  'deflate, -C 64k, fragments': { codec: parseCompressor('deflate'), pclusterSize: 65536, fragments: { all: false, dedupe: 'full', packedPclusterSize: 65536 } },
};

function options(c: Partial<CompressionOptions>, over: Partial<BuildOptions>): BuildOptions {
  return defaultBuildOptions({
    uuid: new Uint8Array(16), timestamp: 1700000000n, allRoot: true, 
    compression: { codec: parseCompressor('lz4'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false, ...c },
    ...(c === MODES['lz4, fingerprints'] ? FINGERPRINT : {}),
    ...over,
  });
}

/** A build whose failure names the case. */
async function build(what: string, ...args: Parameters<typeof buildImage>): Promise<void> {
  try {
    await buildImage(...args);
  } catch (e) {
    (e as Error).message = `${what}: ${(e as Error).message}`;
    throw e;
  }
}

const digestOf = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

const ORDERS: Record<string, (names: string[]) => string[]> = {
  'as given': (n) => n,
  reversed: (n) => [...n].sort().reverse(),
  shuffled: (n) => {
    const rnd = mulberry32(n.length);
    const a = [...n];
    for (let i = a.length - 1; i > 0; i--) {
      const j = rnd() % (i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  },
};

test('overlapped_pipeline_same_bytes: images do not depend on the worker count, readdir order or when the jobs start', async () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-overlap-'));
  try {
    const src = path.join(d, 'src');
    makeTree(src);
    const img = path.join(d, 'img');
    for (const [mode, c] of Object.entries(MODES)) {
      // The reference: a tree scanned first, jobs started from the plan (the path tar sources take).
      const tree = await scanDirectory(src, { xattrs: true, excludePaths: [], excludeRegexes: [] });
      await build(`${mode}: scanned tree`, img, { tree }, options(c, { workers: 2 }));
      const want = digestOf(img);
      for (const workers of [1, 2, 4]) {
        for (const [order, readdirOrder] of Object.entries(ORDERS)) {
          if (workers !== 2 && order === 'reversed') continue;
          // Directories listed by walk threads from the first on (issue 21, lever 2), with 4 workers.
          const walkThreads = workers === 4 ? { threads: 2, startAfterDirs: 0 } : undefined;
          await build(`${mode}: ${workers} workers, readdir order ${order}`, img, { dir: src }, options(c, { workers, readdirOrder, walkThreads }));
          assert.equal(digestOf(img), want, `${mode}: ${workers} workers, readdir order ${order}`);
        }
      }
      // With --cache, twice: filled, then read back through the stat index.
      const cacheDir = path.join(d, `cache-${Object.keys(MODES).indexOf(mode)}`);
      for (const run of ['cold', 'warm']) {
        await build(`${mode}: --cache, ${run}`, img, { dir: src }, options(c, { workers: 2, cacheDir, readdirOrder: ORDERS.shuffled }));
        assert.equal(digestOf(img), want, `${mode}: --cache, ${run}`);
      }
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('cache_fragments_detached_slab: -E fragments with --cache builds (a cached fragment outlives its entry buffer)', async () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-cachefrag-'));
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(src);
    // Enough segments written before the packed inode that their buffers are handed back to the workers.
    for (let i = 0; i < 80; i++) fs.writeFileSync(path.join(src, `f${i}`), wordText(70000 + 37 * i, i, WORDS, 60));
    const img = path.join(d, 'img');
    const c = MODES['deflate, -C 64k, fragments'];
    await buildImage(img, { dir: src }, options(c, { workers: 2 }));
    const want = digestOf(img);
    for (const run of ['cold', 'warm']) {
      await build(`--cache, ${run}`, img, { dir: src }, options(c, { workers: 2, cacheDir: path.join(d, 'cache') }));
      assert.equal(digestOf(img), want, `--cache, ${run}`);
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
