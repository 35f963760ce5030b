// extract's worker threads (src/read/extract-pool.ts): compressed files decoded and written off the
// main thread give the same tree as on it (bytes, modes with setuid, owners, ns times, xattrs), and a
// failure in a worker comes back as the same error, in walk order, with no descriptor left open.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { ErofsImage } from '../src/read/image.js';
import { extract } from '../src/read/extract.js';
import { compressedExtents } from '../src/read/zdata.js';
import { CorruptImageError } from '../src/errors.js';
import { assertSameTree, snapshotTree } from './helpers/snapshot.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import * as sys from '../src/sys/libc.js';
import { defaultExtractWorkers, runnableNow } from '../src/read/extract-pool.js';

const FILES = 24;

/** 24 files of 100-160 KiB (3 MiB in all: past the 1 MiB after which workers start), half text. */
function makeTree(root: string): void {
  fs.mkdirSync(path.join(root, 'd'), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const size = 100_000 + i * 2500;
    const body = i % 2 ? Buffer.from(`line ${i} of a compressible file\n`.repeat(size / 20).slice(0, size))
      : Buffer.concat([pseudoRandom(`f${i}`, size >> 1), Buffer.alloc(size - (size >> 1), i)]);
    const f = path.join(root, 'd', `f${String(i).padStart(2, '0')}`);
    fs.writeFileSync(f, body);
    fs.chmodSync(f, i === 3 ? 0o4755 : 0o640);
    if (i === 5) sys.lsetxattr(Buffer.from(f), Buffer.from('user.forge'), Buffer.from('value\0with a NUL'));
    fs.utimesSync(f, 1_700_000_000 + i + 0.123456789, 1_700_000_000 + i + 0.987654321);
  }
}

const fdCount = (): number => fs.readdirSync('/proc/self/fd').length;
/** Descriptors of ended worker threads (their event loops) go a moment after the call returns. */
async function settledFdCount(want: number): Promise<number> {
  for (let i = 0; i < 100 && fdCount() !== want; i++) await new Promise((r) => setTimeout(r, 20));
  return fdCount();
}

test('extract_workers_equal_main_thread: compressed files written by workers equal those written inline', async () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-xworkers-'));
  try {
    const src = path.join(d, 'src');
    makeTree(src);
    const img = path.join(d, 'img');
    await buildImage(img, { dir: src }, defaultBuildOptions({
      uuid: new Uint8Array(16), workers: 2,
      compression: { codec: parseCompressor('lz4'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false },
    }));
    const image = ErofsImage.open(img);
    try {
      const inline = extract(image, path.join(d, 'a'), { workers: 0 });
      const before = fdCount();
      const pooled = extract(image, path.join(d, 'b'), { workers: 2 });
      assert.equal(await settledFdCount(before), before, 'no descriptor left open');
      assert.equal(inline.workers, 0);
      assert.equal(pooled.workers, 2);
      assert.deepEqual({ ...pooled, workers: 0 }, inline);
      assert.equal(inline.bytes, fs.readdirSync(path.join(src, 'd')).reduce((a, n) => a + fs.statSync(path.join(src, 'd', n)).size, 0));
    } finally {
      image.close();
    }
    const a = await snapshotTree(path.join(d, 'a'));
    assertSameTree(a, await snapshotTree(path.join(d, 'b')));
    assertSameTree(await snapshotTree(src), a);

    // Two files' first pclusters zeroed (f21, f23: compressed, past the first MiB, so in workers):
    // the error is the first file's, as on the main thread.
    const bad = path.join(d, 'bad.img');
    fs.copyFileSync(img, bad);
    const fd = fs.openSync(bad, 'r+');
    const probe = ErofsImage.open(img);
    try {
      const dirIno = probe.lookup('/d');
      for (const name of ['f21', 'f23']) {
        const e = probe.readdir(dirIno).find((x) => Buffer.from(x.name).toString() === name)!;
        const first = compressedExtents(probe, probe.inode(e.nid)).next().value!;
        fs.writeSync(fd, Buffer.alloc(first.plen), 0, first.plen, first.pa);
      }
    } finally {
      probe.close();
      fs.closeSync(fd);
    }
    const errors: unknown[] = [];
    for (const workers of [0, 2]) {
      const image2 = ErofsImage.open(bad);
      const before = fdCount();
      try {
        assert.throws(() => extract(image2, path.join(d, `bad${workers}`), { workers }), (e: unknown) => { errors.push(e); return e instanceof CorruptImageError; });
      } finally {
        image2.close();
      }
      assert.equal(await settledFdCount(before - 1), before - 1, 'no descriptor left open (the image closed)');
    }
    assert.equal((errors[1] as Error).message, (errors[0] as Error).message);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('extract_workers_only_for_idle_cores: by default a worker per core idle over the last minute, never the main thread\'s', () => {
  // [cores, 1-minute load average, workers]; null: the runnable count could not be read.
  const cases: [number, number, number][] = [
    [2, 0, 1], [2, 1.0, 1], [2, 1.4, 1], [2, 1.6, 0], [2, 8, 0], [1, 0, 0], [4, 0.2, 3], [4, 2.2, 2], [16, 0, 4], [16, 30, 0],
  ];
  for (const [cores, load, want] of cases) assert.equal(defaultExtractWorkers(cores, load, null), want, `${cores} cores, load ${load}`);
  // The same average with as many threads runnable now as it says (this one included): the same answer.
  for (const [cores, load, want] of cases) assert.equal(defaultExtractWorkers(cores, load, Math.round(load) + 1), want, `${cores} cores, load ${load}, ${Math.round(load) + 1} runnable`);
});

test('extract_worker_after_own_back_to_back_runs: a 1-minute load our own ended runs left does not cost the worker when nothing else runs now', () => {
  // bench:extract's back-to-back runs held the average at 1.5-1.6 on 2 cores: no worker, the LZ4
  // corpus 0.61 s instead of 0.49 (fsck.erofs 0.52). Only this thread runnable now: the worker.
  assert.equal(defaultExtractWorkers(2, 1.6, 1), 1);
  assert.equal(defaultExtractWorkers(2, 8, 1), 1);
  assert.equal(defaultExtractWorkers(4, 2.2, 1), 3);
  // Busy now but quiet over the minute: the average decides (never more workers than it allows).
  assert.equal(defaultExtractWorkers(2, 0.3, 6), 1);
  assert.equal(defaultExtractWorkers(2, 1.6, 3), 0);
  // /proc/loadavg as this machine has it.
  const r = runnableNow();
  assert.ok(r === null || (Number.isInteger(r) && r >= 1), `runnable ${r}`);
});
