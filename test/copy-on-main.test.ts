// The writer copies batches still queued for a worker itself (JobPool.runQueuedCopy) instead of
// waiting idle: those batches must come out exactly as a worker's, and a failing one must fail as a
// worker's would.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { JobPool } from '../src/pipeline/work/pool.js';
import { UserError } from '../src/errors.js';
import type { JobResult } from '../src/pipeline/work/job-types.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

test('copy_on_main_thread: queued copy batches run on the calling thread write the same bytes and tails as a worker', async () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-copy-main-'));
  const pool = new JobPool(1);
  try {
    // 12 batches of 3 files (a block part and a tail each), more than the worker takes ahead.
    const img = path.join(d, 'img');
    const files: { src: string; data: Buffer; at: number }[] = [];
    let at = 0;
    for (let i = 0; i < 36; i++) {
      const data = pseudoRandom(`f${i}`, 4096 * (1 + (i % 3)) + 100 + i);
      const src = path.join(d, `f${i}`);
      fs.writeFileSync(src, data);
      files.push({ src, data, at });
      at += Math.ceil(data.length / 4096) * 4096;
    }
    fs.writeFileSync(img, Buffer.alloc(at));
    const runs: Promise<JobResult>[] = [];
    for (let b = 0; b < 12; b++) {
      const batch = files.slice(3 * b, 3 * b + 3);
      runs.push(pool.run({
        kind: 'copy', image: img, algo: 'sha256',
        files: batch.map((f) => ({ path: Buffer.from(f.src).toString('latin1'), size: f.data.length, dataStart: f.at, blockPart: f.data.length - (f.data.length % 4096) })),
      }));
    }
    let here = 0;
    while (pool.runQueuedCopy()) here++;
    assert.ok(here > 0, 'some batches were still queued and ran here');
    const results = await Promise.all(runs);
    const image = fs.readFileSync(img);
    results.forEach((r, b) => {
      assert.equal(r.kind, 'copy');
      const { tails, digests } = r as { tails: Uint8Array; digests: Uint8Array };
      let t = 0;
      files.slice(3 * b, 3 * b + 3).forEach((f, i) => {
        const blockPart = f.data.length - (f.data.length % 4096);
        assert.ok(image.subarray(f.at, f.at + blockPart).equals(f.data.subarray(0, blockPart)), `file ${3 * b + i}: block part`);
        assert.ok(Buffer.from(tails.subarray(t, t + f.data.length - blockPart)).equals(f.data.subarray(blockPart)), `file ${3 * b + i}: tail`);
        t += f.data.length - blockPart;
        assert.ok(Buffer.from(digests.subarray(32 * i, 32 * i + 32)).equals(createHash('sha256').update(f.data).digest()), `file ${3 * b + i}: digest`);
      });
    });

    // A source gone since the scan: the batch run here fails with the worker's one line.
    fs.rmSync(files[0].src);
    const failing: Promise<JobResult>[] = [];
    for (let b = 0; b < 6; b++) {
      failing.push(pool.run({ kind: 'copy', image: img, files: [{ path: Buffer.from(files[0].src).toString('latin1'), size: files[0].data.length, dataStart: 0, blockPart: 4096 }] }));
    }
    assert.ok(pool.runQueuedCopy());
    for (const pr of failing) {
      await assert.rejects(pr, (e: Error) => e instanceof UserError && /file disappeared during build/.test(e.message));
    }
  } finally {
    await pool.close();
    fs.rmSync(d, { recursive: true, force: true });
  }
});
