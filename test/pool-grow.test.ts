// A growing pool (JobPoolOptions.grow, used by --cache builds) starts one worker, and the others only
// once compression input queues up past GROW_BYTES: a rebuild whose unchanged files need only cache
// fetches and copies does not pay for idle workers; one with much to compress gets them all. Results
// do not depend on how many workers ran them.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { JobPool } from '../src/pipeline/work/pool.js';
import { parseCompressor } from '../src/compress/codec.js';
import type { ZJob, ZJobResult } from '../src/pipeline/work/job-types.js';
import { wordText } from './helpers/noise.js';

const zjob = (bytes: Uint8Array): ZJob => ({
  kind: 'z', src: { type: 'buffer', bytes }, path: 'mem', size: bytes.length, start: 0, length: bytes.length,
  params: { codec: parseCompressor('lz4'), blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false },
});

/** A result as comparable data: extents and the payloads' bytes. */
const flat = (r: ZJobResult) => ({ extents: r.z.extents, totalBlocks: r.z.totalBlocks, payloads: r.z.payloads.map((p) => (p ? Buffer.from(p).toString('base64') : null)) });

test('pool_grows_only_for_compression: one worker for listings, all of them once 8 MiB of compression queues', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-pool-grow-'));
  const grown = new JobPool(3, { grow: true });
  const fixed = new JobPool(3);
  try {
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(dir, `f${i}`), 'x');
    assert.equal(grown.started, 1, 'a growing pool starts one worker');
    assert.equal(fixed.started, 3);
    const cx = { xattrs: false, excludePaths: [], excludeRegexes: [], statIds: false };
    for (let i = 0; i < 10; i++) assert.equal((await grown.list(cx, [[dir, '']]))[0][1].names.length, 5);
    assert.equal(grown.started, 1, 'no compression: still one worker');
    const small = wordText(1 << 20, 1, ['erofs', 'pool'], 40);
    await grown.run(zjob(small));
    assert.equal(grown.started, 1, '1 MiB to compress: still one worker');
    const big = [2, 3, 4].map((s) => wordText(4 << 20, s, ['grow', 'worker', 'pool'], 50));
    const runs = big.map((b) => grown.run(zjob(b)));
    assert.equal(grown.started, 3, '12 MiB queued: every worker started');
    const got = (await Promise.all(runs)) as ZJobResult[];
    const want = (await Promise.all(big.map((b) => fixed.run(zjob(b))))) as ZJobResult[];
    assert.deepEqual(got.map(flat), want.map(flat), 'the same results whoever ran them');
  } finally {
    await grown.close();
    await fixed.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
