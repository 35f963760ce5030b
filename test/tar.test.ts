// Tar input (issue 8 item 1): the header codec and ACL text on bytes; scanTar on archives written
// here byte by byte (long names, PAX, base-256, xattrs, duplicates, whiteouts, corruption); and end to
// end: the tricky tree archived by GNU tar gives the same image bytes as the tree GNU tar extracts
// from it (plain, gzip, stdin), an OCI layer's whiteouts hide lower files under overlayfs, sparse
// members come back whole, broken archives fail in one line leaving nothing behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import * as zlibMod from 'node:zlib';
import { scanTar } from '../src/source/tar.js';
import { build as buildLib, defaultBuildOptions } from '../src/index.js';
import { parseNumeric, parsePaxRecords, paxTime, decodeHeader } from '../src/source/tar/header.js';
import { aclTextToXattr } from '../src/source/posix-acl.js';
import type { Inode } from '../src/source/tree.js';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree } from './helpers/snapshot.js';
import { makeTrickyTree } from './helpers/tricky-tree.js';
import { findTool, forge, needMount, needRoot, needVersion, run, runOk } from './helpers/tools.js';

const temps: string[] = [];
const scratch = (tag = 'forge-tar-'): string => {
  const d = fs.mkdtempSync(path.join(tmpdir(), tag));
  temps.push(d);
  return d;
};
after(() => { for (const d of temps) fs.rmSync(d, { recursive: true, force: true }); });

const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

// ---- a small tar writer, so every header byte is under the test's control ------------------------

interface Member {
  name: string | Buffer;
  type?: string;
  mode?: number;
  uid?: number | bigint;
  gid?: number;
  mtime?: number | bigint;
  data?: Buffer;
  linkname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  /** ustar prefix field (POSIX) */
  prefix?: string;
  /** 'gnu' writes the GNU magic; numbers that do not fit in octal are written base-256 either way. */
  format?: 'ustar' | 'gnu';
  pax?: [string | Buffer, string | Buffer][];
  global?: boolean;
  badChecksum?: boolean;
}

function numField(b: Buffer, off: number, width: number, v: number | bigint): void {
  const n = BigInt(v);
  if (n >= 0n && n < 8n ** BigInt(width - 1)) {
    b.write(n.toString(8).padStart(width - 1, '0') + '\0', off, 'latin1');
    return;
  }
  // GNU base-256: 0x80 then big-endian for positive, 0xff two's complement for negative.
  let x = n < 0n ? (1n << BigInt(8 * width)) + n : n;
  for (let i = width - 1; i >= 0; i--) { b[off + i] = Number(x & 0xffn); x >>= 8n; }
  if (n >= 0n) b[off] |= 0x80;
}

function header(m: Member, size: number): Buffer {
  const b = Buffer.alloc(512);
  Buffer.from(m.name).copy(b, 0, 0, 100);
  numField(b, 100, 8, m.mode ?? 0o644);
  numField(b, 108, 8, m.uid ?? 0);
  numField(b, 116, 8, m.gid ?? 0);
  numField(b, 124, 12, size);
  numField(b, 136, 12, m.mtime ?? 1_600_000_000);
  b[156] = (m.type ?? '0').charCodeAt(0);
  if (m.linkname) Buffer.from(m.linkname).copy(b, 157, 0, 100);
  if (m.format === 'gnu') b.write('ustar  \0', 257, 'latin1');
  else b.write('ustar\x0000', 257, 'latin1');
  numField(b, 329, 8, m.devmajor ?? 0);
  numField(b, 337, 8, m.devminor ?? 0);
  if (m.prefix) b.write(m.prefix, 345, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  if (m.badChecksum) sum += 1;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

function paxBody(records: [string | Buffer, string | Buffer][]): Buffer {
  return Buffer.concat(records.map(([k, v]) => {
    const kv = Buffer.concat([Buffer.from(k), Buffer.from('='), Buffer.from(v), Buffer.from('\n')]);
    let len = kv.length + 2;
    while (String(len).length + 1 + kv.length !== len) len = String(len).length + 1 + kv.length;
    return Buffer.concat([Buffer.from(`${len} `), kv]);
  }));
}

const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);

function member(m: Member): Buffer {
  const parts: Buffer[] = [];
  if (m.pax) {
    const body = paxBody(m.pax);
    parts.push(header({ name: 'PaxHeaders/x', type: m.global ? 'g' : 'x' }, body.length), body, pad(body.length));
    if (m.global) return Buffer.concat(parts);
  }
  const data = m.data ?? Buffer.alloc(0);
  parts.push(header(m, data.length), data, pad(data.length));
  return Buffer.concat(parts);
}

function gnuLong(type: 'L' | 'K', name: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(name), Buffer.alloc(1)]);
  return Buffer.concat([header({ name: '././@LongLink', type, format: 'gnu' }, body.length), body, pad(body.length)]);
}

const archive = (...parts: Buffer[]): Buffer => Buffer.concat([...parts, Buffer.alloc(1024)]);

function lookup(root: Inode, p: string): Inode | undefined {
  let cur: Inode | undefined = root;
  for (const c of p.split('/').filter(Boolean)) {
    const e: Inode['entries'] = cur?.entries;
    cur = e?.inodes[e.names.indexOf(Buffer.from(c).toString('latin1'))];
  }
  return cur;
}

function xattr(i: Inode | undefined, name: string): Buffer | undefined {
  return i?.xattrs.find((x) => x.name.equals(Buffer.from(name)))?.value;
}

// ---- the codec --------------------------------------------------------------------------------

describe('tar header codec', () => {
  test('numbers: octal with odd padding, base-256 positive and negative', () => {
    assert.equal(parseNumeric(Buffer.from('0000644\0')), 0o644n);
    assert.equal(parseNumeric(Buffer.from('  644 \0\0')), 0o644n);
    assert.equal(parseNumeric(Buffer.from('\0\0\0\0\0\0\0\0')), 0n);
    assert.equal(parseNumeric(Buffer.from('12x4')), null);
    const b = Buffer.alloc(12);
    numField(b, 0, 12, 70_000_000_000n);
    assert.equal(parseNumeric(b), 70_000_000_000n);
    numField(b, 0, 12, -1_234_567_890n);
    assert.equal(b[0], 0xff);
    assert.equal(parseNumeric(b), -1_234_567_890n);
  });

  test('PAX times: fractions, more than 9 digits, negative', () => {
    assert.deepEqual(paxTime(Buffer.from('1700000000.123456789')), { sec: 1700000000n, nsec: 123456789 });
    assert.deepEqual(paxTime(Buffer.from('1700000000.1234567891')), { sec: 1700000000n, nsec: 123456789 });
    assert.deepEqual(paxTime(Buffer.from('1700000000.5')), { sec: 1700000000n, nsec: 500000000 });
    assert.deepEqual(paxTime(Buffer.from('-1.25')), { sec: -2n, nsec: 750000000 });
    assert.deepEqual(paxTime(Buffer.from('-0.000000001')), { sec: -1n, nsec: 999999999 });
    assert.deepEqual(paxTime(Buffer.from('-5')), { sec: -5n, nsec: 0 });
    assert.equal(paxTime(Buffer.from('12:00')), null);
  });

  test('PAX records are taken by their length, as bytes (binary xattr values with \\n, = and NUL)', () => {
    const value = Buffer.from([0x00, 0x0a, 0x3d, 0xff, 0x0a, 0x32, 0x30, 0x20]);
    const recs = parsePaxRecords(paxBody([['SCHILY.xattr.user.bin', value], ['path', 'a=b\nc']]));
    assert.equal(recs.length, 2);
    assert.equal(recs[0].key, 'SCHILY.xattr.user.bin');
    assert.deepEqual(recs[0].value, value);
    assert.deepEqual(recs[1].value, Buffer.from('a=b\nc'));
    assert.throws(() => parsePaxRecords(Buffer.from('99 path=x\n')), /malformed/);
  });

  test('checksum: signed and unsigned sums accepted, a wrong one reported', () => {
    const h = header({ name: 'f\xe9'.padEnd(20, '\xff') }, 0);
    assert.equal(decodeHeader(h).kind, 'header');
    assert.equal(decodeHeader(header({ name: 'f', badChecksum: true }, 0)).kind, 'bad');
    assert.equal(decodeHeader(Buffer.alloc(512)).kind, 'zero');
  });
});

describe('POSIX ACL text -> system.posix_acl_* value', () => {
  // getfattr -e hex -n system.posix_acl_access after `setfacl -m u:1234:rwx,g:5678:r-x` on a 0640 file.
  const GETFATTR = '0200000001000600ffffffff02000700d204000004000400ffffffff080005002e16000010000700ffffffff20000000ffffffff';
  const noNames = () => null;

  test('GNU tar text form gives the kernel bytes (sorted by tag, then id)', () => {
    const text = 'user::rw-\nuser:1234:rwx\ngroup::r--\ngroup:5678:r-x\nmask::rwx\nother::---\n';
    assert.deepEqual(aclTextToXattr(text, 'access', noNames), { value: Buffer.from(GETFATTR, 'hex'), perms: 0o670 });
    // Other spellings: commas, abbreviations, star/bsdtar 4th field, comments, order shuffled.
    const star = 'o::---,m::rwx,g:staff:r-x:5678,g::r--,u:nobody-here:rwx:1234,u::rw- # effective';
    assert.deepEqual(aclTextToXattr(star, 'access', noNames), { value: Buffer.from(GETFATTR, 'hex'), perms: 0o670 });
    // Names are resolved as tar would on extraction.
    const named = aclTextToXattr('user::rw-,user:alice:rwx,group::r--,group:5678:r-x,mask::rwx,other::---', 'access',
      (kind, name) => (kind === 'user' && name === 'alice' ? 1234 : null));
    assert.deepEqual(named, { value: Buffer.from(GETFATTR, 'hex'), perms: 0o670 });
  });

  test('a base-only access ACL is just the mode (no xattr); a default one is kept; bad text is reported', () => {
    assert.deepEqual(aclTextToXattr('user::rwx\ngroup::r-x\nother::r-x\n', 'access', noNames), { value: null, perms: 0o755 });
    const d = aclTextToXattr('user::rwx\ngroup::r-x\nother::---\n', 'default', noNames);
    assert.ok('value' in d && d.value && d.value.length === 4 + 3 * 8);
    assert.ok('error' in aclTextToXattr('user::rwx,user:1:r--,group::r-x,other::---', 'access', noNames)); // no mask
    assert.ok('error' in aclTextToXattr('user:nobody-at-all:rwx,user::rwx,group::r-x,mask::rwx,other::---', 'access', noNames));
  });

  test('matches what setfacl stores on a real file', (t) => {
    if (!findTool('setfacl') || !findTool('getfattr')) {
      assert.ok(!process.env.CI, 'needs setfacl and getfattr (CI installs acl and attr)');
      t.skip('needs setfacl and getfattr');
      return;
    }
    const d = scratch();
    const f = path.join(d, 'f');
    fs.writeFileSync(f, 'x');
    const spec = 'u:4321:r-x,u:7:rw-,g:99:--x,g:5:rwx,m::rwx';
    const set = run('setfacl', ['-m', spec, f]);
    assert.equal(set.status, 0, `setfacl failed: ${set.stderr.trim()}`);
    const hex = /=0x([0-9a-f]+)/.exec(runOk('getfattr', ['-e', 'hex', '-n', 'system.posix_acl_access', f]).stdout.toString())![1];
    const text = runOk('getfacl', ['-n', '-c', '-E', f]).stdout.toString();
    // perms: the mode bits the kernel shows after setfacl (group bits = the mask).
    assert.deepEqual(aclTextToXattr(text, 'access', noNames), { value: Buffer.from(hex, 'hex'), perms: fs.statSync(f).mode & 0o777 });
  });

  test('issue 16.7: mode group bits and ACL mask disagree (bsdtar): the inode gets what GNU tar -x --acls gives', async (t) => {
    if (!findTool('tar') || !needRoot(t)) return;
    const d = scratch();
    // Header modes 0644 and 0600, ACL masks rwx and r--, and a base-only ACL whose entries differ from the mode.
    const acl = (mask: string) => `user::rw-\nuser:1234:rwx\ngroup::r--\nmask::${mask}\nother::r--\n`;
    const tarFile = path.join(d, 'bsd.tar');
    fs.writeFileSync(tarFile, archive(
      member({ name: 'a', data: Buffer.from('a'), mode: 0o644, pax: [['SCHILY.acl.access', acl('rwx')]] }),
      member({ name: 'b', data: Buffer.from('b'), mode: 0o600, pax: [['SCHILY.acl.access', acl('r--')]] }),
      member({ name: 'c', data: Buffer.from('c'), mode: 0o600, pax: [['SCHILY.acl.access', 'user::rwx\ngroup::r-x\nother::r--\n']] }),
    ));
    const ex = path.join(d, 'ex');
    fs.mkdirSync(ex);
    runOk('tar', ['--acls', '--numeric-owner', '-xpf', tarFile, '-C', ex]);
    const { tree, cleanup } = await scanTar(tarFile, { buildTime: { sec: 0n, nsec: 0 }, resolveName: () => null });
    try {
      for (const n of ['a', 'b', 'c']) {
        const ino = tree.entries!.inodes[tree.entries!.names.indexOf(n)];
        assert.equal((ino.mode & 0o7777).toString(8), (fs.statSync(path.join(ex, n)).mode & 0o7777).toString(8), `${n}: mode as GNU tar extracts it`);
      }
    } finally {
      cleanup();
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

// ---- scanTar on archives written here -----------------------------------------------------------

describe('scanTar', () => {
  let dir = '';
  let spoolDir = '';
  before(() => {
    dir = scratch();
    spoolDir = path.join(dir, 'spool');
    fs.mkdirSync(spoolDir);
  });
  const write = (name: string, bytes: Buffer): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    return p;
  };
  const scan = (p: string, extra: Parameters<typeof scanTar>[1] = {}) =>
    scanTar(p, { spoolDir, buildTime: { sec: 1_000n, nsec: 5 }, ...extra });

  test('names, owners, times, xattrs, links and devices from every header flavour', async () => {
    const long = 'd1/' + 'n'.repeat(150);
    const tarPath = write('flavours.tar', archive(
      member({ name: './', type: '5', mode: 0o750, uid: 3, gid: 4, mtime: 1_500_000_000, pax: [['mtime', '1500000000.25'], ['SCHILY.xattr.user.root', 'r']] }),
      member({ name: 'file-in-prefix', prefix: 'deep/er', data: Buffer.from('prefix\n'), uid: 3_000_000_000, mtime: -2_000_000_000n, format: 'gnu' }),
      gnuLong('L', long),
      member({ name: 'truncated-name', data: Buffer.from('long\n'), mode: 0o4755, format: 'gnu' }),
      gnuLong('K', 'd1/' + 'n'.repeat(150)),
      member({ name: 'd1/hard', type: '1', format: 'gnu' }),
      member({ name: 'ignored', type: '2', pax: [['path', 'sym'], ['linkpath', Buffer.from([0x74, 0xff, 0x67])], ['mtime', '-1.5']] }),
      member({ name: 'dev/chr', type: '3', devmajor: 300, devminor: 70000, mode: 0o600 }),
      member({ name: 'dev/blk', type: '4', devmajor: 4095, devminor: 1048575, mode: 0o600 }),
      member({ name: 'dev/fifo', type: '6', mode: 0o620 }),
      member({ name: 'x', data: Buffer.from('x'), pax: [
        ['SCHILY.xattr.user.bin', Buffer.from([0, 10, 61, 255])], ['LIBARCHIVE.xattr.user.a%3Db', 'aGk='],
        ['SCHILY.xattr.trusted.t', ''], ['SCHILY.xattr.user.a%3Db%25c%253D%41', 'gnu'], ['uid', '123456'], ['gid', '654321'], ['size', '1'],
        ['SCHILY.acl.access', 'user::rw-\nuser:1234:rwx\ngroup::r--\ngroup:5678:r-x\nmask::rwx\nother::---\n'],
        ['atime', '1.5'], ['uname', 'ignored'], ['some.vendor.key', 'ignored'],
      ] }),
      member({ name: '/abs//./path/', type: '5', mode: 0o700 }),
    ));
    const { tree, cleanup, spooledBytes } = await scan(tarPath);
    try {
      assert.equal(spooledBytes, 0, 'a plain tar file is read in place');
      assert.equal(tree.mode & 0o7777, 0o750);
      assert.deepEqual([tree.uid, tree.gid, tree.mtimeSec, tree.mtimeNsec], [3, 4, 1_500_000_000, 250_000_000]);
      assert.deepEqual(xattr(tree, 'user.root'), Buffer.from('r'));
      const pf = lookup(tree, 'deep/er/file-in-prefix');
      // GNU headers have no prefix field: those bytes are atime/ctime there.
      assert.equal(pf, undefined, 'the prefix field is ignored in GNU headers');
      const f = lookup(tree, 'file-in-prefix')!;
      assert.equal(f.uid, 3_000_000_000, 'base-256 uid');
      assert.equal(f.mtimeSec, -2_000_000_000);
      const lf = lookup(tree, long)!;
      assert.equal(lf.mode, 0o100000 | 0o4755);
      assert.equal(lookup(tree, 'd1/hard'), lf, 'a hard link is the same inode');
      assert.equal(lf.links, 2);
      assert.equal(lf.data?.type, 'range');
      const fileData = lf.data as { path: string; offset: number };
      assert.equal(fs.readFileSync(fileData.path).subarray(fileData.offset, fileData.offset + lf.size).toString(), 'long\n');
      const sym = lookup(tree, 'sym')!;
      assert.deepEqual([sym.kind, sym.target, sym.mtimeSec, sym.mtimeNsec], ['lnk', Buffer.from([0x74, 0xff, 0x67]), -2, 500_000_000]);
      const chr = lookup(tree, 'dev/chr')!;
      assert.deepEqual([chr.kind, chr.rdevMajor, chr.rdevMinor], ['chr', 300, 70000]);
      assert.deepEqual([lookup(tree, 'dev/blk')!.rdevMajor, lookup(tree, 'dev/blk')!.rdevMinor], [4095, 1048575]);
      assert.equal(lookup(tree, 'dev/fifo')!.kind, 'fifo');
      const x = lookup(tree, 'x')!;
      assert.deepEqual([x.uid, x.gid], [123456, 654321]);
      assert.deepEqual(xattr(x, 'user.bin'), Buffer.from([0, 10, 61, 255]));
      assert.deepEqual(xattr(x, 'user.a=b'), Buffer.from('hi'));
      assert.deepEqual(xattr(x, 'trusted.t'), Buffer.alloc(0));
      assert.deepEqual(xattr(x, 'user.a=b%c%3D%41'), Buffer.from('gnu'), "GNU tar's %3D/%25 escapes in xattr names");
      assert.equal(xattr(x, 'system.posix_acl_access')?.toString('hex').slice(0, 8), '02000000');
      assert.equal(lookup(tree, 'abs/path')!.kind, 'dir');
      // Missing parents: 0755 plus the parent's g+w/o+w, the parent's owner and time at that moment.
      const dev = lookup(tree, 'dev')!;
      assert.deepEqual([dev.mode & 0o7777, dev.uid, dev.gid, dev.mtimeSec, dev.mtimeNsec], [0o755, 3, 4, 1_500_000_000, 250_000_000]);
      // Entries sorted bytewise.
      const names = tree.entries!.names;
      assert.deepEqual(names, [...names].sort());
    } finally {
      cleanup();
    }
  });

  test('without a "." entry the root is 0777, uid 0, the build time; implied dirs inherit from it', async () => {
    const p = write('nodirs.tar', archive(member({ name: 'a/b/c', data: Buffer.from('c') })));
    const { tree, cleanup } = await scan(p);
    cleanup();
    assert.deepEqual([tree.mode & 0o7777, tree.uid, tree.mtimeSec, tree.mtimeNsec], [0o777, 0, 1_000, 5]);
    const a = lookup(tree, 'a/b')!;
    assert.deepEqual([a.mode & 0o7777, a.mtimeSec, a.mtimeNsec], [0o777, 1_000, 5]);
  });

  test('global headers apply to every later entry, per-entry ones only to the next', async () => {
    const p = write('global.tar', archive(
      member({ name: 'g', global: true, pax: [['uid', '42'], ['SCHILY.xattr.user.g', 'G'], ['mtime', '7.5']] }),
      member({ name: 'one', pax: [['uid', '7'], ['SCHILY.xattr.user.g', 'own']] }),
      member({ name: 'two', uid: 9 }),
      member({ name: 'three', pax: [['uid', '']] , uid: 11 }),
    ));
    const { tree, cleanup } = await scan(p);
    cleanup();
    assert.deepEqual([lookup(tree, 'one')!.uid, xattr(lookup(tree, 'one'), 'user.g')?.toString()], [7, 'own']);
    assert.deepEqual([lookup(tree, 'two')!.uid, xattr(lookup(tree, 'two'), 'user.g')?.toString(), lookup(tree, 'two')!.mtimeNsec], [42, 'G', 500_000_000]);
    assert.equal(lookup(tree, 'three')!.uid, 11, 'an empty PAX value falls back to the header field');
  });

  test('a later entry replaces an earlier one; a directory entry updates an existing directory', async () => {
    const p = write('dups.tar', archive(
      member({ name: 'd/f', data: Buffer.from('old') }),
      member({ name: 'd/link', type: '1', linkname: 'd/f' }),
      member({ name: 'd/f', data: Buffer.from('newer') }),
      member({ name: 'd', type: '5', mode: 0o711, uid: 5, pax: [['SCHILY.xattr.user.d', '1']] }),
      member({ name: 'x', type: '5' }),
      member({ name: 'x/inside', data: Buffer.from('i') }),
      member({ name: 'x', data: Buffer.from('file now') }),
    ));
    const { tree, cleanup } = await scan(p);
    cleanup();
    const f = lookup(tree, 'd/f')!;
    const link = lookup(tree, 'd/link')!;
    assert.equal(f.size, 5);
    assert.equal(link.size, 3, 'the hard link keeps the replaced inode');
    assert.deepEqual([f.links, link.links], [1, 1]);
    const d = lookup(tree, 'd')!;
    assert.deepEqual([d.mode & 0o7777, d.uid, d.entries!.names.length], [0o711, 5, 2]);
    assert.equal(lookup(tree, 'x')!.kind, 'reg');
  });

  test('gzip and stdin-like streams spool member data into one temp file, removed by cleanup()', async () => {
    const { gzipSync } = await import('node:zlib');
    const big = Buffer.alloc(300_000, 7);
    const tarBytes = archive(member({ name: 'big', data: big }), member({ name: 'small', data: Buffer.from('s') }));
    const gz = write('s.tar.gz', gzipSync(tarBytes));
    const { tree, cleanup, spooledBytes } = await scan(gz);
    assert.equal(spooledBytes, 300_001);
    const spool = fs.readdirSync(spoolDir);
    assert.equal(spool.length, 1);
    const data = lookup(tree, 'small')!.data as { path: string; offset: number };
    assert.equal(data.path, path.join(spoolDir, spool[0]));
    assert.equal(fs.readFileSync(data.path).subarray(data.offset, data.offset + 1).toString(), 's');
    cleanup();
    assert.deepEqual(fs.readdirSync(spoolDir), []);
    // --gzip/--ungzip on a plain archive reads it as it is, as mkfs.erofs does (zlib passes plain input through).
    const plain = await scan(write('plain.tar', tarBytes), { gzip: true });
    assert.equal(lookup(plain.tree, 'small')!.size, 1);
    plain.cleanup();
  });

  test('stale_spool_of_killed_build_reclaimed: spools of dead processes go, live ones and other files stay', async () => {
    const d = path.join(dir, 'stale');
    fs.mkdirSync(d);
    // a pid that existed and is gone: a child that has exited
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = path.join(d, `erofs-forge-tar-${dead}-0123456789ab.spool`);
    const live = path.join(d, `erofs-forge-tar-${process.ppid}-0123456789ab.spool`);
    const other = path.join(d, `erofs-forge-tar-${dead}-notours.spool`);
    for (const f of [stale, live, other]) fs.writeFileSync(f, 'x');
    const tarBytes = archive(member({ name: 'f', data: Buffer.from('data') }));
    const { gzipSync } = await import('node:zlib');
    const r = await scanTar(write('stale.tar.gz', gzipSync(tarBytes)), { spoolDir: d, buildTime: { sec: 1n, nsec: 0 } });
    const left = fs.readdirSync(d).sort();
    r.cleanup();
    assert.equal(left.length, 3, left.join(' '));
    assert.ok(!left.includes(path.basename(stale)));
    assert.ok(left.includes(path.basename(live)) && left.includes(path.basename(other)));
    assert.deepEqual(fs.readdirSync(d).sort(), [path.basename(live), path.basename(other)].sort());
  });

  test('corrupt input: one UserError naming the offset or member, and no spool left', async () => {
    const good = archive(
      member({ name: 'a', data: Buffer.alloc(2000, 1) }),
      member({ name: 'b', data: Buffer.alloc(3000, 2) }),
    );
    const bad = Buffer.from(good);
    bad[2560 + 100] ^= 0x40; // the header of 'b' (a: 512 + 2048)
    await assert.rejects(scan(write('bad.tar', bad)), { name: 'UserError', message: /bad\.tar: bad header checksum at offset 2560/ });
    await assert.rejects(scan(write('trunc.tar', good.subarray(0, 4000))), { message: /trunc\.tar: unexpected end of data in b \(member at offset 2560\)/ });
    const { gzipSync } = await import('node:zlib');
    await assert.rejects(scan(write('trunc.tgz', gzipSync(good.subarray(0, 4000)))), /unexpected end of data in b/);
    const gzTrunc = gzipSync(good);
    await assert.rejects(scan(write('trunc2.tgz', gzTrunc.subarray(0, gzTrunc.length - 10))), /unexpected end of data/);
    await assert.rejects(scan(write('dotdot.tar', archive(member({ name: 'a/../../etc/passwd', data: Buffer.from('x') })))), /path contains '\.\.'/);
    await assert.rejects(scan(write('notdir.tar', archive(member({ name: 'f' }), member({ name: 'f/g' })))), /f\/g: f is not a directory/);
    await assert.rejects(scan(write('nolink.tar', archive(member({ name: 'l', type: '1', linkname: 'missing' })))), /hard link target missing not found/);
    await assert.rejects(scan(write('rootfile.tar', archive(member({ name: './', data: Buffer.from('x') })))), /root must be a directory/);
    // The tree keeps mtime seconds as numbers: exact up to 2^53, refused beyond (base-256 and PAX alike).
    await assert.rejects(scan(write('far.tar', archive(member({ name: 'far', mtime: 2n ** 53n, format: 'gnu' })))), /far\.tar: far: mtime 9007199254740992 is beyond ±2\^53 seconds/);
    await assert.rejects(scan(write('farpax.tar', archive(member({ name: 'p', pax: [['mtime', '-9007199254740992.5']] })))), /farpax\.tar: p: mtime -9007199254740993 is beyond/);
    assert.deepEqual(fs.readdirSync(spoolDir), []);
  });

  test('--aufs whiteouts and opaque markers, and --ovlfs-strip', async () => {
    const p = write('oci.tar', archive(
      member({ name: 'd', type: '5' }),
      member({ name: 'd/.wh.gone', mode: 0o644, uid: 3, mtime: 1_600_000_002 }),
      member({ name: 'd/keep', data: Buffer.from('k') }),
      member({ name: 'o/.wh..wh..opq' }),
      member({ name: 'q', type: '5', pax: [['SCHILY.xattr.trusted.overlay.opaque', 'y']] }),
    ));
    const a = await scan(p, { aufs: true });
    a.cleanup();
    const wh = lookup(a.tree, 'd/gone')!;
    assert.deepEqual([wh.kind, wh.mode, wh.rdevMajor, wh.rdevMinor, wh.uid, wh.mtimeSec], ['chr', 0o020000, 0, 0, 3, 1_600_000_002]);
    assert.deepEqual(xattr(lookup(a.tree, 'd'), 'trusted.overlay.origin'), Buffer.alloc(0));
    assert.deepEqual(xattr(lookup(a.tree, 'o'), 'trusted.overlay.opaque'), Buffer.from('y'));
    assert.equal(lookup(a.tree, 'o')!.entries!.names.length, 0);
    const s = await scan(p, { aufs: true, ovlfsStrip: true });
    s.cleanup();
    assert.equal(lookup(s.tree, 'd/gone'), undefined);
    assert.equal(lookup(s.tree, 'd')!.xattrs.length, 0);
    assert.equal(lookup(s.tree, 'q')!.xattrs.length, 0);
    const plain = await scan(p);
    plain.cleanup();
    assert.equal(lookup(plain.tree, 'd/.wh.gone')!.kind, 'reg');
  });
});

// ---- end to end: GNU tar, the kernel, overlayfs, mkfs.erofs ---------------------------------------

describe('erofs-forge build --tar', () => {
  let base = '';
  let tricky = '';
  before(() => { base = scratch('forge-tar-e2e-'); });

  const build = (args: string[], opts: Parameters<typeof forge>[1] = {}): void => {
    const r = forge(['build', '--quiet', ...args], opts);
    assert.equal(r.status, 0, `build ${args.join(' ')}: ${r.stderr}`);
  };
  const gnuTar = (args: string[]): void => {
    const r = run('tar', args);
    // GNU tar exits 0 with warnings (sockets ignored, implausible time stamps) on stderr.
    assert.equal(r.status, 0, `tar ${args.join(' ')}: ${r.stderr}`);
  };
  const getTricky = (): string => {
    if (!tricky) {
      tricky = path.join(base, 'tricky');
      makeTrickyTree(tricky);
    }
    return tricky;
  };

  test('tricky tree: archive image == GNU-tar-extracted image (plain, gzip, stdin), mount equals extraction', async (t) => {
    if (!needRoot(t)) return;
    const src = getTricky();
    const tarFile = path.join(base, 't.tar');
    gnuTar(['--xattrs', '--xattrs-include=*', '--acls', '--format=pax', '-cf', tarFile, '-C', src, '.']);
    gnuTar(['--xattrs', '--xattrs-include=*', '--acls', '--format=pax', '-czf', tarFile + '.gz', '-C', src, '.']);
    const ex = path.join(base, 'extracted');
    fs.mkdirSync(ex);
    gnuTar(['--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner', '-xpf', tarFile, '-C', ex]);
    const common = ['-T', '1700000000', '--mkfs-time', '-Uclear'];
    const img = (n: string) => path.join(base, `${n}.img`);
    build([...common, img('b'), ex]);
    build([...common, '--tar', img('a'), tarFile]);
    build([...common, '--tar=f', img('gz'), tarFile + '.gz']);
    build([...common, '--tar', img('stdin'), '-'], { input: fs.readFileSync(tarFile) });
    build([...common, '--tar', '--ungzip', img('stdin-gz'), '-'], { input: fs.readFileSync(tarFile + '.gz') });
    const want = sha(img('b'));
    for (const n of ['a', 'gz', 'stdin', 'stdin-gz']) assert.equal(sha(img(n)), want, `${n}.img differs from the image of the extracted tree`);
    // GNU format: 'L'/'K' long names, base-256 owners, devices and negative times, no xattrs.
    const gnuFile = path.join(base, 'gnu.tar');
    gnuTar(['--format=gnu', '-cf', gnuFile, '-C', src, '.']);
    const exGnu = path.join(base, 'extracted-gnu');
    fs.mkdirSync(exGnu);
    gnuTar(['--numeric-owner', '-xpf', gnuFile, '-C', exGnu]);
    build([...common, img('gnu-b'), exGnu]);
    build([...common, '--tar', img('gnu-a'), gnuFile]);
    assert.equal(sha(img('gnu-a')), sha(img('gnu-b')), 'GNU-format archive');
    if (!needMount(t)) return;
    const extracted = await snapshotTree(ex);
    const mounted = await withMount(img('a'), (m) => snapshotTree(m));
    assertSameTree(extracted, mounted);
  });

  test('ACLs carried only as SCHILY.acl text (tar --acls without --xattrs) become the same xattrs', async (t) => {
    if (!needRoot(t)) return;
    const src = getTricky();
    const tarFile = path.join(base, 'acl-only.tar');
    gnuTar(['--acls', '--no-xattrs', '--format=pax', '-cf', tarFile, '-C', src, '.']);
    assert.doesNotMatch(fs.readFileSync(tarFile).toString('latin1'), /SCHILY\.xattr\.system\.posix_acl/);
    const ex = path.join(base, 'acl-extracted');
    fs.mkdirSync(ex);
    gnuTar(['--acls', '--numeric-owner', '-xpf', tarFile, '-C', ex]);
    const a = path.join(base, 'acl-a.img');
    const b = path.join(base, 'acl-b.img');
    build(['-T', '0', '-Uclear', '--tar', a, tarFile]);
    build(['-T', '0', '-Uclear', b, ex]);
    assert.equal(sha(a), sha(b));
    const r = run('getfattr', ['-n', 'system.posix_acl_access', '-e', 'hex', path.join(ex, 'acl/access')]);
    assert.match(r.stdout.toString(), /0x0200000001000600ffffffff02000700d2040000/);
  });

  test('GNU sparse members (old GNU with extension blocks, PAX 0.0/0.1/1.0) come back whole', async (t) => {
    if (!needRoot(t) || !needMount(t)) return;
    const src = path.join(base, 'sparse');
    fs.mkdirSync(src);
    const fd = fs.openSync(path.join(src, 'holes'), 'w');
    for (let i = 0; i < 30; i++) fs.writeSync(fd, Buffer.alloc(100 + i * 13, 65 + (i % 26)), 0, 100 + i * 13, i * 65536 + (i * 511) % 4096);
    fs.ftruncateSync(fd, 31 * 65536 + 17);
    fs.closeSync(fd);
    fs.writeFileSync(path.join(src, 'dense'), Buffer.alloc(10000, 3));
    const want = sha(path.join(src, 'holes'));
    const dirImg = path.join(base, 'sparse-dir.img');
    build(['-T', '0', '-Uclear', dirImg, src]);
    for (const [tag, fmt] of [['gnu', ['--format=gnu']], ['pax00', ['--format=pax', '--sparse-version=0.0']],
      ['pax01', ['--format=pax', '--sparse-version=0.1']], ['pax10', ['--format=pax', '--sparse-version=1.0']]] as const) {
      const tarFile = path.join(base, `sparse-${tag}.tar`);
      gnuTar(['-S', ...fmt, '-cf', tarFile, '-C', src, '.']);
      const img = path.join(base, `sparse-${tag}.img`);
      build(['-T', '0', '-Uclear', '--tar', img, tarFile]);
      assert.equal(sha(img), sha(dirImg), `${tag}: image differs from the directory's`);
      if (tag === 'gnu') {
        await withMount(img, (m) => assert.equal(sha(path.join(m, 'holes')), want));
        const gz = path.join(base, 'sparse.tgz');
        gnuTar(['-S', '--format=pax', '-czf', gz, '-C', src, '.']);
        const gzImg = path.join(base, 'sparse-gz.img');
        build(['-T', '0', '-Uclear', '--tar', gzImg, gz]);
        assert.equal(sha(gzImg), sha(dirImg));
      }
    }
  });

  test('OCI layer: --aufs whiteouts and opaque dirs hide the lower layer under overlayfs', async (t) => {
    if (!needRoot(t) || !needMount(t)) return;
    const layer = path.join(base, 'layer.tar');
    fs.writeFileSync(layer, archive(
      member({ name: 'etc/', type: '5', mode: 0o755 }),
      member({ name: 'etc/.wh.gone', mode: 0o644 }),
      member({ name: 'etc/added', data: Buffer.from('added\n') }),
      member({ name: 'opaque/', type: '5', mode: 0o755 }),
      member({ name: 'opaque/.wh..wh..opq' }),
      member({ name: 'opaque/new', data: Buffer.from('new\n') }),
      member({ name: '.wh.topgone' }),
    ));
    const img = path.join(base, 'layer.img');
    build(['-T', '1700000000', '-Uclear', '--tar', '--aufs', img, layer]);
    const lower = path.join(base, 'lower');
    fs.mkdirSync(path.join(lower, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(lower, 'opaque'));
    for (const f of ['etc/gone', 'etc/kept', 'opaque/old', 'topgone', 'other']) fs.writeFileSync(path.join(lower, f), f);
    await withMount(img, async (m) => {
      // Seen directly, the whiteouts are char 0:0 devices.
      const st = fs.statSync(path.join(m, 'etc/gone'));
      assert.ok(st.isCharacterDevice() && st.rdev === 0);
      const ovl = fs.mkdtempSync(path.join(base, 'ovl-'));
      runOk('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${m}:${lower}`, ovl]);
      try {
        const ls = (d: string) => fs.readdirSync(path.join(ovl, d)).sort();
        assert.deepEqual(ls('.'), ['etc', 'opaque', 'other']);
        assert.deepEqual(ls('etc'), ['added', 'kept']);
        assert.deepEqual(ls('opaque'), ['new']);
        assert.equal(fs.readFileSync(path.join(ovl, 'etc/kept'), 'utf8'), 'etc/kept');
        assert.equal(fs.existsSync(path.join(ovl, 'etc/gone')), false);
      } finally {
        if (run('umount', [ovl]).status !== 0) run('umount', ['-l', ovl]);
      }
    });
  });

  test('same bytes as mkfs.erofs 1.9.3 --tar=f for OCI layers (--aufs, --ovlfs-strip) when sharing is off', (t) => {
    if (!needRoot(t)) return; // mkfs.erofs gives the root the invoking user's uid/gid; we give 0
    const mkfs = findTool('mkfs.erofs');
    if (!needVersion(t, mkfs, '1.9.3', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
    // mkfs.erofs --tar never builds a shared xattr area (it only does for directory sources); -x with a
    // huge tolerance makes ours inline-only too. Images with directories in non-alphabetical archive
    // order differ in inode placement (mkfs orders by archive), so this layer is in path order.
    const layer = path.join(base, 'mkfs-layer.tar');
    fs.writeFileSync(layer, archive(
      member({ name: 'a/b/c', data: Buffer.from('implied parents\n'), mtime: 1_600_000_000 }),
      member({ name: 'd/', type: '5', mode: 0o750, uid: 7, mtime: 1_600_000_001 }),
      member({ name: 'd/.wh.gone', mode: 0o640, uid: 3, mtime: 1_600_000_002 }),
      member({ name: 'd/keep', data: Buffer.from('keep\n') }),
      member({ name: 'o/.wh..wh..opq', mtime: 1_600_000_003 }),
      member({ name: 'o/x', data: Buffer.from('x\n'), pax: [['SCHILY.xattr.user.k', 'v'], ['mtime', '1600000004.5']] }),
      member({ name: 'q/', type: '5', pax: [['SCHILY.xattr.trusted.overlay.opaque', 'y']] }),
    ));
    for (const flags of [[], ['--aufs'], ['--ovlfs-strip'], ['--aufs', '--ovlfs-strip']]) {
      const ours = path.join(base, `ours${flags.join('')}.img`);
      const theirs = path.join(base, `mkfs${flags.join('')}.img`);
      build(['-T', '1700000000', '--mkfs-time', '-Uclear', '-x', '2147483647', '--tar', ...flags, ours, layer]);
      runOk(mkfs!, ['--tar=f', '-T1700000000', '--mkfs-time', '-Uclear', ...flags, theirs, layer]);
      assert.equal(sha(ours), sha(theirs), `flags ${flags.join(' ') || '(none)'}`);
    }
  });

  test('broken archives: exit 1, one line, no image and no spool file left', () => {
    const d = scratch();
    const tmp = path.join(d, 'tmp');
    fs.mkdirSync(tmp);
    const good = archive(member({ name: 'a', data: Buffer.alloc(5000, 1) }), member({ name: 'b', data: Buffer.alloc(10, 2) }));
    const bad = Buffer.from(good);
    bad[512 + 5120 + 3] ^= 1;
    fs.writeFileSync(path.join(d, 'bad.tar'), bad);
    fs.writeFileSync(path.join(d, 'trunc.tar'), good.subarray(0, 3000));
    const cases: [string[], Buffer | undefined, RegExp][] = [
      [['bad.tar'], undefined, /^erofs-forge: .*bad\.tar: bad header checksum at offset 5632 /],
      [['trunc.tar'], undefined, /^erofs-forge: .*trunc\.tar: unexpected end of data in a \(member at offset 0\)$/],
      [['-'], good.subarray(0, 3000), /^erofs-forge: <stdin>: unexpected end of data in a /],
      [['-'], zlibMod.gzipSync(good).subarray(0, -6), /^erofs-forge: <stdin>: (unexpected end of data|decompression: )/],
      [['missing.tar'], undefined, /missing\.tar: no such file or directory/],
    ];
    for (const [src, input, re] of cases) {
      const out = path.join(d, 'out.img');
      const r = forge(['build', '--tar', out, ...src.map((s) => (s.endsWith('.tar') ? path.join(d, s) : s))], { input, env: { TMPDIR: tmp } });
      assert.equal(r.status, 1, `${src.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], re);
      assert.equal(fs.existsSync(out), false);
      assert.deepEqual(fs.readdirSync(tmp), [], 'spool left behind');
    }
    const r = forge(['build', '--aufs', path.join(d, 'x.img'), d]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /need --tar/);
  });
});

describe('compressed archives (issue 16.7): gzip and zstd read with Node zlib, xz and bzip2 refused with "decompress it first", --gzip on plain tar accepted', () => {
  const tarOf = (): Buffer => {
    const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-tarz-'));
    try {
      fs.mkdirSync(path.join(d, 't'));
      fs.writeFileSync(path.join(d, 't', 'f'), 'hello\n');
      runOk('tar', ['--format=pax', '-C', path.join(d, 't'), '-cf', path.join(d, 'a.tar'), 'f']);
      return fs.readFileSync(path.join(d, 'a.tar'));
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  };

  test('each input form: the image of a plain archive, or one clear line', async () => {
    const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-tarz-'));
    try {
      const tar = tarOf();
      const z = zlibMod as unknown as { zstdCompressSync?: (b: Buffer) => Buffer };
      const inputs: [string, Buffer, string[], RegExp | null][] = [
        ['a.tar', tar, [], null],
        ['gzip-flag.tar', tar, ['--gzip'], null],
        ['ungzip-flag.tar', tar, ['--ungzip'], null],
        ['a.tar.gz', zlibMod.gzipSync(tar), [], null],
        ['a.tar.zst', z.zstdCompressSync ? z.zstdCompressSync(tar) : Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64)]), [],
          z.zstdCompressSync ? null : /a\.tar\.zst: zstd-compressed archive \(Node .* has no zstd; Node >= 22\.15 reads it\): decompress it first/],
        ['a.tar.xz', Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(64)]), [], /a\.tar\.xz: xz-compressed archive: decompress it first/],
        ['a.tar.bz2', Buffer.concat([Buffer.from('BZh9'), Buffer.alloc(64)]), [], /a\.tar\.bz2: bzip2-compressed archive: decompress it first/],
      ];
      const want = path.join(d, 'want.img');
      fs.writeFileSync(path.join(d, 'plain.tar'), tar);
      assert.equal(forge(['build', '--quiet', '--tar', '-T0', '-Uclear', want, path.join(d, 'plain.tar')]).status, 0);
      for (const [name, bytes, flags, err] of inputs) {
        fs.writeFileSync(path.join(d, name), bytes);
        for (const viaStdin of [false, true]) {
          const out = path.join(d, 'out.img');
          fs.rmSync(out, { force: true });
          const r = forge(['build', '--quiet', '--tar', ...flags, '-T0', '-Uclear', out, viaStdin ? '-' : path.join(d, name)], viaStdin ? { input: bytes } : {});
          if (err) {
            assert.equal(r.status, 1, `${name}: ${r.stderr}`);
            assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
            assert.match(r.stderr, viaStdin ? new RegExp(err.source.replace(/^a\\\.tar\\\.[a-z0-9]+/, '<stdin>')) : err);
            assert.equal(fs.existsSync(out), false);
          } else {
            assert.equal(r.status, 0, `${name}: ${r.stderr}`);
            assert.deepEqual(fs.readFileSync(out), fs.readFileSync(want), `${name}${viaStdin ? ' (stdin)' : ''}: image differs from the plain archive's`);
          }
        }
      }
      // The library takes tar input too (issue 16.6): the same bytes as the CLI.
      const lib = path.join(d, 'lib.img');
      await buildLib(lib, { tar: path.join(d, 'a.tar.gz') }, defaultBuildOptions({ timestamp: 0n, uuid: new Uint8Array(16) }));
      assert.deepEqual(fs.readFileSync(lib), fs.readFileSync(want), 'library build({ tar }) differs from build --tar');
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
