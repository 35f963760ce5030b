// Compressed pclusters written by the worker that compressed them (work/held-results.ts,
// emit/held-writes.ts): held results cross with no bytes, the worker writes each run where the writer
// placed it and lets the buffers go; small files' jobs cross as columns; and a build's held writes do
// not fill the flat copies' in-flight list (which made the main thread copy flat files itself).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { packResult, unpackResult, transferables, toWire, fromWire } from '../src/pipeline/work/job-wire.js';
import { heldWriteJob, heldCount } from '../src/pipeline/work/held-results.js';
import { takeSlab } from '../src/pipeline/files/slab-pool.js';
import type { Job, JobResult, ZJob, ZJobParams } from '../src/pipeline/work/job-types.js';
import type { ZResult } from '../src/pipeline/files/zfile.js';
import { HeldWrites } from '../src/pipeline/emit/held-writes.js';
import type { JobPool } from '../src/pipeline/work/pool.js';
import type { ImageOutput } from '../src/pipeline/io/output.js';
import { forge } from './helpers/tools.js';

test('held compression results cross with no payload bytes and are written by the holding worker where the writer placed them', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-held-'));
  try {
    const slab = takeSlab(3 * 4096);
    for (let i = 0; i < slab.length; i++) slab[i] = (i * 7 + 3) & 0xff;
    const z: ZResult = {
      extents: [
        { la: 0, llen: 9000, compressed: true, blocks: 1, blkaddr: 0 },
        { la: 9000, llen: 8192, compressed: true, blocks: 2, blkaddr: 0 },
        { la: 17192, llen: 100, compressed: true, blocks: 0, blkaddr: 0 },
      ],
      payloads: [slab.subarray(0, 4096), slab.subarray(4096, 3 * 4096), undefined],
      inline: new Uint8Array([1, 2, 3]), inlineRaw: new Uint8Array(100).fill(9), totalBlocks: 3, slabs: [slab.buffer as ArrayBuffer],
    };
    const before = heldCount();
    const res: JobResult = { kind: 'zbatch', outcomes: [{ res: { kind: 'z', z, hold: true } }] };
    const wire = packResult(res);
    assert.deepEqual(transferables(wire), [], 'nothing of a held result is transferred');
    assert.equal(heldCount(), before + 1);
    const back = unpackResult(structuredClone(wire), 1) as Extract<JobResult, { kind: 'zbatch' }>;
    const got = (back.outcomes[0] as { res: { z: ZResult } }).res.z;
    // The extents stay columns (ZResult.cols): no object per pcluster on the writer's thread.
    assert.deepEqual(got.extents, []);
    assert.deepEqual([...got.cols!], [0, 9000, 1, 1, 0, 9000, 8192, 1, 2, 0, 17192, 100, 1, 0, 0]);
    assert.deepEqual(got.payloads, []);
    assert.equal(got.slabs, undefined);
    assert.equal(got.held!.worker, 1);
    assert.deepEqual([...got.held!.pay], [0, 0, 4096, 0, 4096, 8192, -1, 0, 0]);
    assert.deepEqual(got.inline, z.inline);
    // The writer placed the first pcluster at block 5, the second at block 1: the worker writes them there.
    const image = path.join(d, 'img');
    fs.writeFileSync(image, new Uint8Array(8 * 4096));
    const id = got.held!.id;
    heldWriteJob({ kind: 'hwrite', image, runs: Float64Array.from([id, 0, 0, 4096, 5 * 4096, id, 0, 4096, 8192, 4096]), free: [id] });
    const out = fs.readFileSync(image);
    assert.deepEqual(out.subarray(5 * 4096, 6 * 4096), Buffer.from(slab.subarray(0, 4096)));
    assert.deepEqual(out.subarray(4096, 3 * 4096), Buffer.from(slab.subarray(4096, 3 * 4096)));
    assert.ok(out.subarray(0, 4096).every((b) => b === 0) && out.subarray(3 * 4096, 5 * 4096).every((b) => b === 0));
    assert.equal(heldCount(), before, 'let go once written');
    // Let go without writing (a file stored flat after all): the id goes, nothing is written.
    packResult({ kind: 'z', z: { extents: [{ la: 0, llen: 5000, compressed: true, blocks: 1, blkaddr: 0 }], payloads: [takeSlab(4096)], totalBlocks: 1 }, hold: true });
    assert.equal(heldCount(), before + 1);
    heldWriteJob({ kind: 'hwrite', image, runs: new Float64Array(0), free: [id + 1] });
    assert.equal(heldCount(), before);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('a batch of small path-read compression jobs crosses as columns and comes back equal', () => {
  const params: ZJobParams = { codec: { name: 'lz4' }, blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false };
  const jobs: ZJob[] = [
    { kind: 'z', path: '/a/b\u00e9', mtimeSec: 1_700_000_000, mtimeNsec: 5, size: 9000, start: 0, length: 9000, params, algo: 'sha256', hold: true },
    { kind: 'z', path: '/a/c', mtimeSec: -3, mtimeNsec: 999_999_999, size: 1, start: 0, length: 1, params, algo: 'sha256', hold: true },
  ];
  const job: Job = { kind: 'zbatch', jobs };
  const wire = structuredClone(toWire(job));
  assert.equal(wire.kind, 'zbatch-columns');
  const back = fromWire(wire) as Extract<Job, { kind: 'zbatch' }>;
  assert.deepEqual(back.jobs.map((j) => ({ ...j, cacheDir: undefined })), jobs.map((j) => ({ ...j, cacheDir: undefined })));
  // Jobs that differ in what columns share cross as objects.
  const mixed: Job = { kind: 'zbatch', jobs: [jobs[0], { ...jobs[1], params: { ...params } }] };
  assert.equal(toWire(mixed).kind, 'zbatch');
});

test('held writes do not fill the flat copies in-flight list (the writer then copied flat files itself)', async () => {
  const posted: Job[] = [];
  const pool = { runOn: (_w: number, j: Job) => { posted.push(j); return Promise.resolve({ kind: 'hwrite' } as JobResult); } } as unknown as JobPool;
  const out = { tempPath: '/nonexistent', handOver: () => {}, ensureFits: () => {} } as unknown as ImageOutput;
  const held = new HeldWrites(pool, out);
  // 300 small results of worker 0, each done: batches go out, nothing else is touched.
  for (let i = 0; i < 300; i++) {
    const h = { worker: 0, id: i + 1, pay: Float64Array.from([0, 0, 4096]) };
    held.add(h, 0, i * 4096);
    const wait = held.done(h);
    if (wait) await wait;
  }
  await held.drain();
  const runs = posted.flatMap((j) => [...(j as Extract<Job, { kind: 'hwrite' }>).runs]);
  const freed = posted.flatMap((j) => (j as Extract<Job, { kind: 'hwrite' }>).free);
  assert.equal(freed.length, 300);
  assert.equal(runs.length, 5 * 300, 'runs of different results are not merged');
  assert.deepEqual(runs.slice(0, 10), [1, 0, 0, 4096, 0, 2, 0, 0, 4096, 4096]);
  assert.ok(posted.length >= 2 && posted.length <= 3, `${posted.length} batches`);
});

test('held writes: a compressed build at 2 workers equals the 1-worker build (small, mid-size and multi-segment files, ztailpacking)', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-held-'));
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(src);
    let seed = 21;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const text = (n: number) => Buffer.from(Array.from({ length: n }, () => 'abcdefgh '[Math.floor(rnd() * 9)]).join(''));
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(src, `s${i}`), text(5000 + Math.floor(rnd() * 20000)));
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(src, `m${i}`), text(600_000 + i * 4097));
    const big = Buffer.alloc((16 << 20) + 12345);
    for (let i = 0; i < big.length; i += 4096) big.write(`block ${i}`, i);
    fs.writeFileSync(path.join(src, 'big'), big);
    for (const extra of [[], ['-E', 'ztailpacking']]) {
      const imgs = [1, 2].map((w) => {
        const img = path.join(d, `w${w}.img`);
        forge(['build', '-z', 'lz4', ...extra, '--workers', String(w), '-T', '0', '-U', 'clear', img, src]);
        return fs.readFileSync(img);
      });
      assert.ok(imgs[0].equals(imgs[1]), `${extra.join(' ')}: 2 workers wrote other bytes than 1`);
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('held_writes_run_before_queued_jobs: a worker writes (and lets go) the pclusters it holds before the jobs queued to it', async () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-held-'));
  const { JobPool } = await import('../src/pipeline/work/pool.js');
  const pool = new JobPool(1);
  try {
    const src = path.join(d, 'src');
    fs.writeFileSync(src, Buffer.alloc(8 << 20, 7));
    const image = path.join(d, 'img');
    fs.writeFileSync(image, '');
    const order: string[] = [];
    const jobs = Array.from({ length: 6 }, (_, i) => pool.run({ kind: 'hash', src: { type: 'path', path: Buffer.from(src) }, path: src, size: 8 << 20, algo: 'sha256' })
      .then(() => { order.push(`hash${i}`); }));
    // Queued behind the six in the worker's FIFO, it waited for all of them (held buffers stayed resident meanwhile).
    const write = pool.runOn(0, { kind: 'hwrite', image, runs: new Float64Array(0), free: [] }).then(() => { order.push('hwrite'); });
    await Promise.all([...jobs, write]);
    assert.ok(order.indexOf('hwrite') <= 2, order.join(' '));
  } finally {
    await pool.close();
    fs.rmSync(d, { recursive: true, force: true });
  }
});
