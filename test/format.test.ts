// Byte-level vectors for the on-disk encoders: each pins a constant or rule from the docs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { crc32c, crc32cRaw } from '../src/format/crc32c.js';
import { xxh32 } from '../src/format/xxh32.js';
import { xattrFilterBit, encodePrefixTable, decodePrefixTable, keyOfName, longPrefixOf, encodeXattrEntry, xattrEntrySize } from '../src/format/xattr.js';
import { encodeSuperBlock, decodeSuperBlock, superBlockChecksum, checksumLength } from '../src/format/superblock.js';
import { encodeInode, decodeInode, encodeRdev, decodeRdev } from '../src/format/inode.js';
import { xattrIcount, xattrIbodySize } from '../src/format/xattr-ibody.js';
import { splitDirBlocks, encodeDirBlock, decodeDirBlock } from '../src/format/dirent.js';
import { XATTR_FILTER_SEED, SUPER_MAGIC_V1 } from '../src/format/constants.js';
import { encodeFingerprint, parseFingerprint, vendorUuid } from '../src/fingerprint/scheme.js';
import { createHash } from 'node:crypto';

test('crc32c: standard and raw vectors (erofs-format.md §1)', () => {
  const v = Buffer.from('123456789');
  assert.equal(crc32c(v), 0xe3069283);
  assert.equal(crc32cRaw(0xffffffff, v), 0x1cf96d7c);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(SUPER_MAGIC_V1, 0);
  assert.equal(crc32cRaw(0xffffffff, head), 0x5045b54a);
  // Unaligned lengths take the byte loop: every split gives the same result.
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37) & 0xff));
  const whole = crc32cRaw(0xffffffff, data);
  for (const cut of [1, 3, 4, 5, 511, 999]) assert.equal(crc32cRaw(crc32cRaw(0xffffffff, data, 0, cut), data, cut), whole);
});

test('xxh32 vectors and the xattr filter seed', () => {
  assert.equal(xxh32(Buffer.alloc(0), 0), 0x02cc5d05);
  assert.equal(xxh32(Buffer.from('abc'), 0), 0x32d153ff);
  assert.equal(XATTR_FILTER_SEED, 0x25bbe08f);
  const cases: [number, string, number][] = [
    [6, 'ima', 0], [6, 'selinux', 11], [6, 'capability', 29], [4, 'overlay.opaque', 20], [1, 'mime_type', 23],
    [2, '', 30], [3, '', 21], [0, 'erofs.fingerprint.v1', 8], [4, 'erofs.fingerprint', 30], [1, 'foo.x', 10],
  ];
  for (const [idx, name, bit] of cases) assert.equal(xattrFilterBit(idx, Buffer.from(name)), bit, `${idx}:${name}`);
});

test('long prefix table bytes match mkfs.erofs (page-cache-share.md §1.2)', () => {
  const t = encodePrefixTable([longPrefixOf(Buffer.from('erofs.fingerprint.v1'))]);
  assert.equal(t.toString('hex'), '1500' + '00' + Buffer.from('erofs.fingerprint.v1').toString('hex') + '00');
  const two = encodePrefixTable([longPrefixOf(Buffer.from('user.foo.')), longPrefixOf(Buffer.from('trusted.erofs.fingerprint'))]);
  assert.equal(two.subarray(0, 8).toString('hex'), '050001' + Buffer.from('foo.').toString('hex') + '00');
  assert.equal(two.subarray(8, 11).toString('hex'), '120004');
  const back = decodePrefixTable(two, 2, 't');
  assert.deepEqual(back.map((p) => [p.baseIndex, p.infix.toString()]), [[1, 'foo.'], [4, 'erofs.fingerprint']]);
});

test('fingerprint entry header and value for "hello\\n"', () => {
  const key = keyOfName(Buffer.from('erofs.fingerprint.v1'), [Buffer.from('erofs.fingerprint.v1')])!;
  const value = encodeFingerprint('sha256', createHash('sha256').update('hello\n').digest());
  assert.equal(value.length, 39);
  const b = new Uint8Array(xattrEntrySize(0, 39));
  encodeXattrEntry(key, value, b, 0);
  assert.equal(Buffer.from(b.subarray(0, 4)).toString('hex'), '00802700');
  assert.equal(Buffer.from(b.subarray(4, 11)).toString(), 'sha256:');
  assert.equal(Buffer.from(b.subarray(11, 43)).toString('hex'), '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03');
  assert.equal(b.length, 44);
  const parsed = parseFingerprint(value);
  assert.equal(parsed.scheme, 'sha256');
  assert.equal(parseFingerprint(value.subarray(0, 38)).scheme, null);
  assert.equal(parseFingerprint(Buffer.from('md5:0123456789abcdef')).scheme, null);
  // UUIDv5: same namespace and digest, same id; version and variant bits set.
  const ns = Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex');
  const u = vendorUuid(ns, createHash('sha256').update('hello\n').digest());
  assert.deepEqual(u, vendorUuid(ns, createHash('sha256').update('hello\n').digest()));
  assert.equal(u[6] >> 4, 5);
  assert.equal(u[8] >> 6, 2);
});

test('xattr names map to kernel indexes; long prefixes first', () => {
  const k = (n: string, lp: string[] = []) => { const r = keyOfName(Buffer.from(n), lp.map((s) => Buffer.from(s))); return r && [r.nameIndex, r.suffix.toString()]; };
  assert.deepEqual(k('user.a'), [1, 'a']);
  assert.deepEqual(k('system.posix_acl_access'), [2, '']);
  assert.deepEqual(k('system.posix_acl_default'), [3, '']);
  assert.deepEqual(k('trusted.x'), [4, 'x']);
  assert.deepEqual(k('security.selinux'), [6, 'selinux']);
  assert.equal(k('system.foo'), null);
  assert.deepEqual(k('user.foo.bar', ['user.foo.']), [0x80, 'bar']);
  assert.deepEqual(k('trusted.erofs.fingerprint', ['user.foo.', 'trusted.erofs.fingerprint']), [0x81, '']);
});

test('superblock encodes to 128 bytes and round-trips; checksum covers [1024, 1024+len)', () => {
  const sb = {
    checksum: 0, featureCompat: 3, blkszbits: 12, sbExtslots: 0, rootNid: 36, inos: 7n, epoch: 1700000000n,
    fixedNsec: 5, blocks: 9, metaBlkaddr: 0, xattrBlkaddr: 0, uuid: new Uint8Array(16).fill(0xab),
    volumeName: Buffer.from('label\0\0\0\0\0\0\0\0\0\0\0'), featureIncompat: 0, u1: 0, extraDevices: 0, devtSlotoff: 0,
    dirblkbits: 0, xattrPrefixCount: 1, xattrPrefixStart: 288, packedNid: 0n, xattrFilterReserved: 0,
    ishareXattrPrefixId: 0, buildTime: 0, rootNid8b: 0n,
  };
  const b = encodeSuperBlock(sb);
  assert.equal(b.length, 128);
  assert.equal(Buffer.from(b.subarray(0, 4)).toString('hex'), 'e2e1f5e0');
  assert.deepEqual({ ...decodeSuperBlock(b), uuid: null, volumeName: null }, { ...sb, uuid: null, volumeName: null });
  assert.equal(checksumLength(4096), 3072);
  assert.equal(checksumLength(1024), 1024);
  assert.equal(checksumLength(512), 512);
  // The checksum field itself is taken as zero.
  const region = new Uint8Array(3072);
  region.set(b);
  const c1 = superBlockChecksum(region);
  region[5] = 0x77;
  assert.equal(superBlockChecksum(region), c1);
  region[200] = 1;
  assert.notEqual(superBlockChecksum(region), c1);
  // Unknown incompat bits are refused.
  const bad = Buffer.from(b);
  bad.writeUInt32LE(0x8000, 0x50);
  assert.throws(() => decodeSuperBlock(bad), /unknown incompatible features/);
});

test('inodes: compact 32 B and extended 64 B round-trip, rdev packing, icount', () => {
  const base = { datalayout: 2, xattrIcount: 12, mode: 0o100644, nlink: 3, u: 77, ino: 9, uid: 1, gid: 2, mtimeNsec: 0, mtimeDelta: 0 };
  const c = new Uint8Array(32);
  encodeInode({ ...base, extended: false, size: 4097n, mtimeSec: 0n }, c, 0);
  const dc = decodeInode(c, 0);
  assert.equal(dc.extended, false);
  assert.equal(dc.size, 4097n);
  assert.equal(c[0], 2 << 1);
  const e = new Uint8Array(64);
  encodeInode({ ...base, extended: true, size: 5n << 32n, mtimeSec: -1234567891n, mtimeNsec: 500000000, uid: 70000, gid: 70001, nlink: 70000 }, e, 0);
  const de = decodeInode(e, 0);
  assert.equal(de.size, 5n << 32n);
  assert.equal(de.mtimeSec, -1234567891n);
  assert.equal(de.uid, 70000);
  assert.equal(de.nlink, 70000);
  assert.equal(encodeRdev(8, 1), 0x801);
  assert.deepEqual(decodeRdev(encodeRdev(300, 70000)), { major: 300, minor: 70000 });
  assert.equal(xattrIcount(0), 0);
  assert.equal(xattrIcount(56), 12);
  assert.equal(xattrIbodySize(12), 56);
});

test('directory blocks: names never straddle, decode mirrors encode', () => {
  const names = Array.from({ length: 300 }, (_, i) => Buffer.from(`name-${String(i).padStart(4, '0')}`));
  const blocks = splitDirBlocks(names, 512);
  let covered = 0;
  for (const b of blocks) {
    assert.ok(b.used <= 512);
    assert.equal(b.start, covered);
    covered = b.end;
  }
  assert.equal(covered, 300);
  const entries = names.map((name, i) => ({ name, nid: 100 + i, fileType: 1 }));
  const buf = new Uint8Array(512);
  const used = encodeDirBlock(entries, blocks[1].start, blocks[1].end, buf, 0);
  assert.equal(used, blocks[1].used);
  const back = decodeDirBlock(buf, 512, 'x');
  assert.deepEqual(back.map((e) => [Buffer.from(e.name).toString(), e.nid]), entries.slice(blocks[1].start, blocks[1].end).map((e) => [e.name.toString(), e.nid]));
});

test('dirent_nid_read_without_bigint: nids up to 2^53 - 1 decode exactly, 2^53 and above are refused', () => {
  const block = new Uint8Array(4096);
  const entries = [{ name: Buffer.from('a'), nid: 0x1f_ffff_ffff_ffff, fileType: 1 }, { name: Buffer.from('b'), nid: 0x1_0000_0001, fileType: 2 }];
  const used = encodeDirBlock(entries, 0, 2, block, 0);
  assert.deepEqual(decodeDirBlock(block, used, 'test').map((e) => e.nid), [0x1f_ffff_ffff_ffff, 0x1_0000_0001]);
  // nid 2^53: high half 0x200000
  new DataView(block.buffer).setUint32(4, 0x200000, true);
  new DataView(block.buffer).setUint32(0, 0, true);
  assert.throws(() => decodeDirBlock(block, used, 'test'), /dirent nid out of range/);
});
