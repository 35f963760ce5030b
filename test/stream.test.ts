// Files of several 16 MiB segments are written segment by segment as their results come back
// (src/pipeline/emit/compressed.ts writeCompressed, file-jobs.ts SegmentStream), so memory does not grow with the
// file. When compression does not pay after all, the file's blocks are taken back and it is copied
// flat over them: every byte of those blocks must then be the file's or zero, never an old pcluster.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { runJob } from '../src/pipeline/work/jobs.js';
import { setKernelCopy } from '../src/pipeline/work/job-copy.js';
import { openImage } from '../src/index.js';
import { INODE_COMPRESSED_COMPACT, INODE_FLAT_INLINE } from '../src/format/constants.js';
import { forge, needMount, needRoot } from './helpers/tools.js';
import { withMount } from './helpers/mount.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('copy job: zero runs stay holes, or with `dense` are written over what the blocks held', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-dense-'));
  try {
    const src = path.join(d, 'src');
    const img = path.join(d, 'img');
    // 3 MiB: random, a whole zero MiB (one read), random.
    const data = Buffer.concat([pseudoRandom('a', 1 << 20), Buffer.alloc(1 << 20), pseudoRandom('b', 1 << 20)]);
    // The kernel copy (no digest to compute) skips the source's holes (SEEK_HOLE) and copies its data,
    // zeros included; reading and writing (the fallback, and every copy that hashes) skips zero runs.
    // Either way the image's blocks of the run are left alone, unless `dense`.
    for (const from of ['copy_file_range', 'none'] as const) {
      fs.rmSync(src, { force: true });
      if (from === 'none') fs.writeFileSync(src, data);
      else {
        const fd = fs.openSync(src, 'w');
        fs.writeSync(fd, data, 0, 1 << 20, 0);
        fs.writeSync(fd, data, 2 << 20, 1 << 20, 2 << 20);
        fs.closeSync(fd);
      }
      setKernelCopy(from);
      try {
        for (const dense of [false, true]) {
          fs.writeFileSync(img, Buffer.alloc(4 << 20, 0xee));
          runJob({ kind: 'copy', image: img, files: [{ path: Buffer.from(src).toString('latin1'), size: data.length, dataStart: 4096, blockPart: data.length, dense }] });
          const got = fs.readFileSync(img).subarray(4096, 4096 + data.length);
          if (dense) assert.ok(got.equals(data), `${from}, dense: the zero run is written`);
          else assert.ok(got.subarray(1 << 20, 2 << 20).every((b) => b === 0xee), `${from}, sparse: the zero run is left alone`);
        }
      } finally {
        setKernelCopy('copy_file_range');
      }
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('multi-segment files: kept compressed, or (incompressible, odd size) taken back and stored flat; same bytes at 1 and 2 workers; mounted and read back', async (t) => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-stream-'));
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(src);
    // Incompressible, 3 segments and an odd tail: compression does not pay (the flat path after writing pclusters).
    const random = pseudoRandom('random', (33 << 20) + 123);
    fs.writeFileSync(path.join(src, 'random'), random);
    // Compressible, 4 segments.
    const text = Buffer.from(Array.from({ length: 1_200_000 }, (_, i) => `line ${i} of text\n`).join(''));
    fs.writeFileSync(path.join(src, 'text'), text);
    fs.writeFileSync(path.join(src, 'small'), 'a small file after them\n');
    const build = (name: string, workers: string) => {
      const img = path.join(d, name);
      const r = forge(['build', '--quiet', '-T0', '-Uclear', '-zlz4', '--xattr-inode-digest', '--workers', workers, img, src]);
      assert.equal(r.status, 0, r.stderr);
      return img;
    };
    const one = build('one.img', '1');
    const two = build('two.img', '2');
    const image = openImage(two);
    try {
      assert.equal(image.lookup('/random').datalayout, INODE_FLAT_INLINE, 'incompressible: stored flat');
      assert.equal(image.lookup('/text').datalayout, INODE_COMPRESSED_COMPACT);
      // The flat copy over the taken-back blocks: the file's bytes exactly, then zeros to the block end.
      assert.equal(sha(image.readAll(image.lookup('/random'), 64 << 20)), sha(random));
    } finally {
      image.close();
    }
    // Both images on their own, before comparing them (the 1-worker image was the corrupt one once: see
    // takeback_zeros_over_reused_blocks in write-gather.test.ts).
    for (const img of [one, two]) {
      const v = forge(['verify', img]);
      assert.equal(v.status, 0, `${path.basename(img)}: ${v.stdout}${v.stderr}`);
    }
    assert.equal(sha(fs.readFileSync(one)), sha(fs.readFileSync(two)));
    if (!needRoot(t) || !needMount(t)) return;
    await withMount(two, (m) => {
      assert.equal(sha(fs.readFileSync(path.join(m, 'random'))), sha(random));
      assert.equal(sha(fs.readFileSync(path.join(m, 'text'))), sha(text));
    });
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
