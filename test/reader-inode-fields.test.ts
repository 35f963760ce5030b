// ErofsImage.inode reads an inode's fields straight from its bytes (src/read/image.ts: no DataView,
// no BigInt per inode, in place in extract's read-ahead window): every field must equal what the
// format's own decoder (decodeInode) gives for the same bytes, for compact and extended inodes,
// times before 1970 and with nanoseconds, owners above 65535, with and without the window.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { ErofsImage, type InodeInfo } from '../src/read/image.js';
import { readAhead } from '../src/read/extract.js';
import { decodeInode } from '../src/format/inode.js';
import { needRoot } from './helpers/tools.js';
import * as sys from '../src/sys/libc.js';

test('reader_inode_fields_equal_decodeInode: compact and extended inodes, in a window and not', async (t) => {
  if (!needRoot(t)) return;
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-inofields-'));
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(path.join(src, 'dir'), { recursive: true });
    const files: [string, number, bigint, number, number, number][] = [
      // name, size, mtime seconds and nanoseconds, uid, gid
      ['plain', 10, 1_700_000_000n, 0, 0, 0],
      ['pre1970', 5000, -1_234_567_891n, 500_000_000, 0, 0],
      ['nanos', 9000, 1_700_000_123n, 123_456_789, 0, 0],
      ['bigowner', 70_000, 1_600_000_000n, 0, 70_000, 70_001],
      ['dir/empty', 0, 1_500_000_000n, 0, 1000, 1000],
    ];
    for (const [name, size, sec, nsec, uid, gid] of files) {
      const f = path.join(src, name);
      fs.writeFileSync(f, Buffer.alloc(size, 0x61));
      fs.chownSync(f, uid, gid);
      // Not fs.utimesSync: a double of seconds cannot carry these (nor a negative fraction).
      sys.lutimensat(sys.AT_FDCWD, Buffer.from(f), sec, nsec);
    }
    fs.linkSync(path.join(src, 'plain'), path.join(src, 'dir', 'link'));
    // Per-file times (extended inodes), and one build time for all (compact, but for the owner above 65535).
    for (const [name, opts] of [['own-times', {}], ['build-time', { timestamp: 0n }]] as const) {
      const img = path.join(d, name);
      await buildImage(img, { dir: src }, defaultBuildOptions({ workers: 1, ...opts }));
      checkImage(img, name === 'own-times');
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

function checkImage(img: string, ownTimes: boolean): void {
  const image = ErofsImage.open(img);
  try {
    const nids: number[] = [];
    image.walk((_p, ino) => { nids.push(ino.nid); });
    assert.ok(nids.length >= 7);
    const expectFrom = (ino: InodeInfo) => {
      const raw = decodeInode(image.readAt(ino.iloc, ino.isize, 'test'), 0);
      return {
        extended: raw.extended, datalayout: raw.datalayout, mode: raw.mode, nlink: raw.nlink, size: Number(raw.size),
        uid: raw.uid, gid: raw.gid, u: raw.u, ino: raw.ino,
        mtimeSec: raw.extended ? raw.mtimeSec : BigInt.asIntN(64, image.sb.epoch) + BigInt(raw.mtimeDelta),
        mtimeNsec: raw.extended ? raw.mtimeNsec : image.sb.fixedNsec,
      };
    };
    const fields = (i: InodeInfo) => ({
      extended: i.extended, datalayout: i.datalayout, mode: i.mode, nlink: i.nlink, size: i.size,
      uid: i.uid, gid: i.gid, u: i.u, ino: i.ino, mtimeSec: i.mtimeSec, mtimeNsec: i.mtimeNsec,
    });
    let extended = 0;
    let compact = 0;
    let negative = 0;
    for (const nid of nids) {
      const plain = image.inode(nid);
      assert.deepEqual(fields(plain), expectFrom(plain), `nid ${nid}`);
      if (plain.extended) extended++; else compact++;
      if (plain.mtimeSec < 0n) negative++;
    }
    if (ownTimes) assert.ok(extended > 0 && negative > 0, `extended ${extended}, before 1970 ${negative}`);
    else assert.ok(extended > 0 && compact > 0, `extended ${extended}, compact ${compact}`);
    // Through extract's read-ahead window (inodes read in place, cache off), in another order.
    const undo = readAhead(image, 64 << 10);
    try {
      for (const nid of [...nids].reverse()) {
        const w = image.inode(nid);
        assert.deepEqual(fields(w), expectFrom(w), `nid ${nid} in a window`);
      }
    } finally {
      undo();
    }
  } finally {
    image.close();
  }
}
