// The reader rejects hand-corrupted images with one line naming the rule and the inode, exit 1,
// never a stack trace. Each case edits a valid image at a place found through the reader itself.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { forge } from './helpers/tools.js';
import { fixtureCopy } from './helpers/fixture.js';
import { ErofsImage } from '../src/read/image.js';
import { stampSuperBlockChecksum } from '../src/format/superblock.js';

function fixChecksum(b: Buffer, bs: number): void {
  stampSuperBlockChecksum(b, bs);
}

interface Facts { bs: number; rootIloc: number; dirIloc: number; dirNid: number; fileIloc: number; dirData: number; subdirNid: number; length: number }

type Case = [name: string, mutate: (b: Buffer, f: Facts) => Buffer, expect: RegExp];

const CASES: Case[] = [
  ['bad magic', (b) => { b[1024] ^= 0xff; return b; }, /superblock: bad magic/],
  ['bad checksum', (b) => { b[1100] ^= 1; return b; }, /bad superblock checksum/],
  ['block size 8 KiB', (b, f) => { b[1024 + 0x0c] = 13; fixChecksum(b, f.bs); return b; }, /unsupported block size/],
  ['unknown incompat bit', (b, f) => { b.writeUInt32LE(0x8000, 1024 + 0x50); fixChecksum(b, f.bs); return b; }, /unknown incompatible features/],
  ['dirblkbits set', (b, f) => { b[1024 + 0x5a] = 1; fixChecksum(b, f.bs); return b; }, /dirblkbits must be 0/],
  ['root nid beyond the image', (b, f) => { b.writeUInt16LE(0xfff0, 1024 + 0x0e); fixChecksum(b, f.bs); return b; }, /nid 65520: reference beyond the end/],
  ['truncated image', (b, f) => b.subarray(0, f.length - f.bs), /beyond the end of the image/],
  ['unknown data layout', (b, f) => { b.writeUInt16LE((b.readUInt16LE(f.fileIloc) & 1) | (5 << 1), f.fileIloc); fixChecksum(b, f.bs); return b; }, /unknown data layout/],
  ['i_format bits of 6.15+', (b, f) => { b[f.fileIloc] |= 0x10; fixChecksum(b, f.bs); return b; }, /unsupported i_format bits/],
  ['xattr icount 1', (b, f) => { b.writeUInt16LE(1, f.fileIloc + 2); fixChecksum(b, f.bs); return b; }, /xattr icount 1 is invalid/],
  ['bad file type', (b, f) => { b.writeUInt16LE(0o000644, f.fileIloc + 4); fixChecksum(b, f.bs); return b; }, /bad file type in i_mode/],
  ['dirent nameoff garbage', (b, f) => { b.writeUInt16LE(7, f.dirData + 8); fixChecksum(b, f.bs); return b; }, /bogus dirent nameoff/],
  ['dirent order', (b, f) => { const o = f.dirData + b.readUInt16LE(f.dirData + 8); const x = b[o]; b[o] = 0x7e; void x; fixChecksum(b, f.bs); return b; }, /wrong dirent name order|"\." does not point/],
  ['directory loop', (b, f) => {
    // Point a subdirectory's entry back at the root: the walk must stop, not loop.
    const count = b.readUInt16LE(f.dirData + 8) / 12;
    for (let i = 0; i < count; i++) {
      const d = f.dirData + 12 * i;
      if (Number(b.readBigUInt64LE(d)) === f.subdirNid) b.writeBigUInt64LE(BigInt(f.dirNid), d);
    }
    fixChecksum(b, f.bs);
    return b;
  }, /directory reached twice|wrong dirent|does not point/],
  ['file blocks beyond the image', (b, f) => { b.writeUInt32LE(0x7fffff, f.fileIloc + 16); fixChecksum(b, f.bs); return b; }, /data blocks beyond the end of the image/],
];

test('reader rejects corrupted images with a one-line reason naming the place', async (t) => {
  const { dir, cleanup } = fixtureCopy();
  try {
    const img = path.join(path.dirname(dir), 'base.img');
    // -E noinline_data and -b 4096: the random file has plain blocks to point elsewhere.
    const r = forge(['build', '--quiet', '-T0', '-Uclear', '-E', 'noinline_data', img, dir]);
    assert.equal(r.status, 0, r.stderr);
    const e = ErofsImage.open(img);
    const root = e.inode(e.rootNid);
    const data = e.lookup('/data');
    const file = e.lookup('/data/random-5000.bin');
    const nested = e.lookup('/data/nested');
    const facts: Facts = {
      bs: e.blockSize, rootIloc: root.iloc, dirIloc: data.iloc, dirNid: data.nid, fileIloc: file.iloc,
      // data/ is small: its entries sit inline right after the inode.
      dirData: data.datalayout === 2 ? data.iloc + data.isize + data.xattrSize : data.u * e.blockSize,
      subdirNid: nested.nid, length: e.length,
    };
    e.close();
    const pristine = fs.readFileSync(img);
    for (const [name, mutate, expect] of CASES) {
      await t.test(name, () => {
        const bad = path.join(path.dirname(dir), 'bad.img');
        fs.writeFileSync(bad, mutate(Buffer.from(pristine), facts));
        const ls = forge(['ls', '-R', bad]);
        assert.equal(ls.status, 1, `exit status for ${name}: ${ls.stderr}`);
        assert.match(ls.stderr, expect);
        const lines = ls.stderr.trim().split('\n');
        assert.equal(lines.length, 1, `one line: ${ls.stderr}`);
        assert.doesNotMatch(ls.stderr, /\bat .*\.js:\d+/);
      });
    }
  } finally {
    cleanup();
  }
});
