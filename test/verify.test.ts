// `erofs-forge verify`: passes the mkfs.erofs 1.9.3 reference images (and agrees with
// `fsck.erofs --xattr-inode-digest`), and catches each kind of wrong fingerprint on tampered copies.
// Images are built by mkfs.erofs 1.9.3 (EROFS_UTILS_BIN) from small generated trees; the bytes to
// change are located through our reader (test/helpers/tamper.ts), never at fixed offsets. Arbitrary
// fingerprint values (uuid, blake3, forged) come from a source xattr `user.fp` built with
// `--xattr-prefix=user.fp`, after which the superblock is switched to ishare with that prefix.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import { blake3 } from '@noble/hashes/blake3.js';
import { parse as uuidParse } from 'uuid';
import { REFERENCE_IMAGES, findTool, forge, needTool, needVersion, run, runOk, type RunResult } from './helpers/tools.js';
import { noise } from './helpers/noise.js';
import {
  copyImage, editSuperblock, fingerprintEntry, firstDataOffset, nameFilterOffset, patch, readBytes, withImage, writeBytes,
} from './helpers/tamper.js';
import { ContentReader } from '../src/verify/content.js';
import { verifyImages } from '../src/verify/verify.js';
import { vendorUuid, DEFAULT_FINGERPRINT_NAME } from '../src/fingerprint/scheme.js';
import { encodeUuidMap, type UuidMap } from '../src/fingerprint/uuid-map.js';
import { xattrFilterBit } from '../src/format/xattr.js';
import { FEATURE_COMPAT_ISHARE_XATTRS } from '../src/format/constants.js';
import { craftImage, tagged, type CraftedFiles } from './helpers/crafted.js';

/** mkfs.erofs 1.9.3 reference images, shipped beside the repository (see their README). */
const REF_DIR = REFERENCE_IMAGES;
const DIGEST_IMAGES = ['digest-default.img', 'digest-trusted.img', 'prefix-and-digest.img'].map((f) => join(REF_DIR, f));
const NEED_193 = 'erofs-utils 1.9.3 mkfs.erofs (set EROFS_UTILS_BIN to its bin directory)';
const NS = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();

const work = mkdtempSync(join(tmpdir(), 'erofs-verify-'));
after(() => rmSync(work, { recursive: true, force: true }));
let seq = 0;
const fresh = (name: string): string => join(work, `${++seq}-${name}`);

interface Cli extends RunResult {
  out: string;
  json?: { ok: boolean; problems: { image: string; path: string | null; code: string; message: string }[]; images: { files: number; fingerprinted: number; verified: number; unchecked: number }[] };
}

function verify(args: string[]): Cli {
  const r = forge(['verify', ...args]);
  const out = r.stdout.toString();
  const res: Cli = { ...r, out };
  if (args.includes('--json')) {
    assert.ok(out.trim(), `verify --json printed nothing (exit ${r.status}); stderr:\n${r.stderr}`);
    res.json = JSON.parse(out);
  }
  return res;
}

/** Exit 1, and a problem line "IMAGE: PATH: ..." naming the file; with --json the problem has `code`. */
function assertCaught(image: string | string[], path: string | null, code: string, extra: string[] = []): Cli {
  const images = Array.isArray(image) ? image : [image];
  const text = verify([...extra, ...images]);
  assert.equal(text.status, 1, `exit code 1 expected\nstdout:\n${text.out}\nstderr:\n${text.stderr}`);
  const owner = images[images.length - 1];
  const prefix = path === null ? `${owner}: ` : `${owner}: ${path}: `;
  assert.ok(text.out.split('\n').some((l) => l.startsWith(prefix)), `no problem line starting "${prefix}" in:\n${text.out}`);
  const js = verify(['--json', ...extra, ...images]);
  assert.equal(js.status, 1, js.stderr);
  assert.equal(js.json!.ok, false);
  assert.ok(js.json!.problems.some((p) => p.code === code && p.path === path && p.image === owner),
    `no ${code} problem for ${owner}:${path} in ${JSON.stringify(js.json!.problems, null, 1)}`);
  return text;
}

function assertClean(images: string[], extra: string[] = []): Cli {
  const r = verify([...extra, ...images]);
  assert.equal(r.status, 0, `exit 0 expected\nstdout:\n${r.out}\nstderr:\n${r.stderr}`);
  assert.equal(r.out, '', 'no problem lines');
  assert.match(r.stderr, /^verify: .* MB\/s\): OK(; \d+ uuid fingerprints? NOT checked)?$/m);
  return r;
}

// ---- trees and images ------------------------------------------------------------------

/** A small tree: inline and block files, a duplicate, a hard link, an empty file, a 2.5 MB file (> the 1 MiB read buffer). */
function makeTree(root: string, variant = 0): void {
  mkdirSync(join(root, 'dir'), { recursive: true });
  writeFileSync(join(root, 'hello.txt'), variant ? 'HELLO\n' : 'hello\n');
  writeFileSync(join(root, 'same-as-hello.txt'), variant ? 'HELLO\n' : 'hello\n');
  writeFileSync(join(root, 'other.txt'), 'other content\n');
  writeFileSync(join(root, 'big.bin'), noise(10000, 7 + variant));
  writeFileSync(join(root, 'large.bin'), noise(2_500_123, 11));
  writeFileSync(join(root, 'dir', 'note.txt'), 'a note\n');
  writeFileSync(join(root, 'empty'), '');
  linkSync(join(root, 'hello.txt'), join(root, 'dir', 'link'));
}

function mkfs193(t: TestContext): string | null {
  const mkfs = findTool('mkfs.erofs');
  return needVersion(t, mkfs, '1.9.3', NEED_193) ? mkfs : null;
}

const builtCache = new Map<string, string>();
/** mkfs.erofs 1.9.3 image of makeTree(variant) with `flags` (built once per flag set), returned as a fresh copy. */
function image(mkfs: string, flags: string[], variant = 0): string {
  const key = `${variant}|${flags.join(' ')}`;
  let built = builtCache.get(key);
  if (!built) {
    const root = fresh('tree');
    makeTree(root, variant);
    built = fresh('base.img');
    runOk(mkfs, ['--quiet', ...flags, '-T0', '-Uclear', built, root]);
    builtCache.set(key, built);
  }
  return copyImage(built, fresh('copy.img'));
}

const digestImage = (mkfs: string, variant = 0) => image(mkfs, ['--xattr-inode-digest'], variant);

/** fsck.erofs 1.9.3 --xattr-inode-digest as a second opinion on sha256 images, when available. */
function fsckDigest(img: string): number | null {
  const fsck = findTool('fsck.erofs');
  if (!fsck) return null;
  const v = run(fsck, ['-V']);
  if (!/1\.9\.[3-9]|1\.(1\d|[2-9]\d)\./.test(v.stdout.toString() + v.stderr)) return null;
  return run(fsck, ['--xattr-inode-digest', img]).status;
}

function craftedImage(t: TestContext, mkfs: string, files: CraftedFiles, links: Record<string, string> = {}): string | null {
  const setfattr = findTool('setfattr');
  if (!needTool(t, setfattr, 'setfattr (package attr)')) return null;
  return craftImage(mkfs, setfattr, fresh('crafted'), fresh('crafted.img'), files, links);
}

// ---- reference images ------------------------------------------------------------------

describe('verify: mkfs.erofs 1.9.3 reference images', () => {
  test('the three digest images pass, every fingerprint verified', () => {
    const r = assertClean(DIGEST_IMAGES);
    assert.match(r.stderr, /3 images, 111 regular files, 108 fingerprinted \(108 verified\)/);
    const js = verify(['--json', ...DIGEST_IMAGES]);
    assert.equal(js.status, 0);
    const doc = JSON.parse(js.out);
    assert.equal(doc.schema, 'erofs-forge/verify/1');
    assert.equal(doc.ok, true);
    assert.deepEqual(doc.problems, []);
    for (const s of doc.images) {
      assert.equal(s.ishare, true);
      assert.equal(s.files, 37);
      assert.equal(s.fingerprinted, 36, 'every non-empty regular file');
      assert.equal(s.verified, 36);
      assert.equal(s.complete, true);
    }
    assert.deepEqual(doc.images.map((s: { fingerprintName: string }) => s.fingerprintName),
      [DEFAULT_FINGERPRINT_NAME, 'trusted.erofs.fingerprint', DEFAULT_FINGERPRINT_NAME]);
  });

  test('fsck.erofs 1.9.3 --xattr-inode-digest agrees on the reference images', (t) => {
    const fsck = findTool('fsck.erofs');
    if (!needVersion(t, fsck, '1.9.3', 'erofs-utils 1.9.3 fsck.erofs (set EROFS_UTILS_BIN)')) return;
    for (const img of DIGEST_IMAGES) {
      assert.equal(run(fsck, ['--xattr-inode-digest', img]).status, 0, `fsck.erofs on ${img}`);
      assert.equal(verify([img]).status, 0, `verify on ${img}`);
    }
  });

  test('an image without fingerprints passes with none counted', () => {
    const js = verify(['--json', join(REF_DIR, 'plain.img')]);
    assert.equal(js.status, 0, js.out + js.stderr);
    assert.equal(js.json!.images[0].fingerprinted, 0);
    assert.equal(js.json!.images[0].files, 37);
  });

  const sameAsData = (imgs: string[]): number => {
    let files = 0;
    for (const f of imgs) {
      withImage(f, (img) => {
        const reader = new ContentReader(img);
        try {
          img.walk((_p, ino) => {
            if (ino.kind !== 'reg') return;
            const whole = Buffer.concat([...img.data(ino)]);
            const d = reader.decode(ino, { sha256: true, blake3: true });
            assert.equal(d.bytes, whole.length);
            assert.deepEqual(d.sha256, sha256(whole));
            assert.deepEqual(d.blake3, Buffer.from(blake3(whole)));
            files++;
          });
        } finally {
          reader.close();
        }
      });
    }
    return files;
  };

  test('the streaming content reader gives the bytes ErofsImage.data() gives, sha256 and blake3', () => {
    assert.equal(sameAsData([...DIGEST_IMAGES, join(REF_DIR, 'plain.img')]), 4 * 38, 'every name of every regular file');
  });

  test('... also across its 1 MiB buffer (a 2.5 MB file)', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    assert.equal(sameAsData([digestImage(mkfs)]), 8);
  });
});

// ---- tampered copies ---------------------------------------------------------------------

describe('verify: tampered copies of mkfs.erofs 1.9.3 images', () => {
  test('a changed data byte', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    for (const path of ['/big.bin', '/large.bin', '/hello.txt']) {
      const img = digestImage(mkfs);
      const off = firstDataOffset(img, path) + (path === '/large.bin' ? 2_000_000 : 0);
      const b = readBytes(img, off, 1);
      patch(img, off, Buffer.from([b[0] ^ 0x01]));
      const r = assertCaught(img, path, 'digest-mismatch');
      assert.match(r.out, /sha256 digest mismatch/);
      assert.equal(r.out.trim().split('\n').length, path === '/hello.txt' ? 2 : 1, r.out); // hello.txt: + value now shared by two contents
      const f = fsckDigest(img);
      if (f !== null) assert.notEqual(f, 0, 'fsck.erofs --xattr-inode-digest also fails');
    }
  });

  test('uncompressed verify messages: a digest mismatch prints both digests in full', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const img = digestImage(mkfs);
    const off = firstDataOffset(img, '/big.bin');
    const orig = noise(10000, 7);
    const changed = Buffer.from(orig);
    changed[0] ^= 0x80;
    patch(img, off, changed.subarray(0, 1));
    const r = assertCaught(img, '/big.bin', 'digest-mismatch');
    const line = r.out.split('\n').find((l) => l.includes('/big.bin'))!;
    assert.ok(line.includes(`the fingerprint says ${sha256(orig).toString('hex')}, the content hashes to ${sha256(changed).toString('hex')}`), line);
    assert.doesNotMatch(line, /…/);
  });

  test('fingerprints swapped between two files', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const img = digestImage(mkfs);
    const a = fingerprintEntry(img, '/big.bin');
    const b = fingerprintEntry(img, '/other.txt');
    const va = readBytes(img, a.value, a.valueLength);
    const vb = readBytes(img, b.value, b.valueLength);
    patch(img, a.value, vb);
    patch(img, b.value, va);
    assertCaught(img, '/big.bin', 'digest-mismatch');
    assertCaught(img, '/other.txt', 'digest-mismatch');
    const f = fsckDigest(img);
    if (f !== null) assert.notEqual(f, 0);
  });

  test('a value of the wrong length', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const img = digestImage(mkfs);
    const e = fingerprintEntry(img, '/other.txt');
    assert.equal(e.valueLength, 39);
    // e_value_size 39 -> 38: the padded entry keeps its size (44 bytes), so only the value changes.
    patch(img, e.entry + 2, Buffer.from([38, 0]));
    const r = assertCaught(img, '/other.txt', 'malformed-fingerprint');
    assert.match(r.out, /sha256 value of 38 bytes \(expected 39\)/);
    const f = fsckDigest(img);
    if (f !== null) assert.notEqual(f, 0);
  });

  test('a value with an unknown scheme tag', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const img = digestImage(mkfs);
    const e = fingerprintEntry(img, '/dir/note.txt');
    patch(img, e.value, Buffer.from('sha999:'));
    const r = assertCaught(img, '/dir/note.txt', 'malformed-fingerprint');
    assert.match(r.out, /unknown fingerprint scheme/);
    const f = fsckDigest(img);
    if (f !== null) assert.notEqual(f, 0);
  });

  test('a fingerprint that is no longer there, and one the name filter hides', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const img = digestImage(mkfs);
    const e = fingerprintEntry(img, '/other.txt');
    patch(img, e.entry + 1, Buffer.from([0x01])); // e_name_index: long prefix 0 -> "user." with an empty suffix
    assertCaught(img, '/other.txt', 'missing-fingerprint');

    const img2 = digestImage(mkfs);
    const off = nameFilterOffset(img2, '/big.bin');
    const filter = readBytes(img2, off, 4).readUInt32LE();
    const bit = xattrFilterBit(0, Buffer.from(DEFAULT_FINGERPRINT_NAME));
    assert.equal((filter >>> bit) & 1, 0, 'mkfs leaves the fingerprint bit clear');
    const nf = Buffer.alloc(4);
    nf.writeUInt32LE((filter | (1 << bit)) >>> 0);
    patch(img2, off, nf);
    assertCaught(img2, '/big.bin', 'filtered-fingerprint');
  });

  test('ishare compat bit set without a valid prefix id (no prefix table)', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const img = image(mkfs, []);
    editSuperblock(img, (sb) => { sb.featureCompat |= FEATURE_COMPAT_ISHARE_XATTRS; });
    const r = assertCaught(img, null, 'ishare-no-prefix');
    assert.match(r.out, /compat bit set without a valid prefix id/);
    const f = fsckDigest(img);
    if (f !== null) assert.notEqual(f, 0, 'erofs-utils refuses it too');
  });

  test('ishare prefix id out of range', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const img = digestImage(mkfs);
    editSuperblock(img, (sb) => {
      assert.equal(sb.xattrPrefixCount, 1);
      sb.ishareXattrPrefixId = 1;
    });
    const r = assertCaught(img, null, 'ishare-prefix-out-of-range');
    assert.match(r.out, /prefix id 1 out of range \(1 long prefixes\)/);
    const f = fsckDigest(img);
    if (f !== null) assert.notEqual(f, 0, 'erofs-utils refuses it too');
  });

  test('forged sharing across two images: one value on different contents', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const a = digestImage(mkfs);
    const b = digestImage(mkfs, 1); // hello.txt holds "HELLO\n" here
    const ea = fingerprintEntry(a, '/hello.txt');
    const eb = fingerprintEntry(b, '/hello.txt');
    patch(b, eb.value, readBytes(a, ea.value, ea.valueLength));
    assertClean([a]);
    const r = assertCaught([a, b], '/hello.txt', 'fingerprint-conflict');
    assert.ok(r.out.includes(`${b}: /hello.txt: fingerprint sha256:${sha256('hello\n').toString('hex')} also stands for different content at ${a}:/hello.txt`), r.out);
  });

  test('a broken superblock checksum and an unreadable image are problems, not crashes', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const img = digestImage(mkfs);
    const label = readBytes(img, 1024 + 0x40, 1);
    writeBytes(img, 1024 + 0x40, Buffer.from([label[0] ^ 0xff])); // checksum left stale on purpose
    const r = assertCaught(img, null, 'corrupt');
    assert.match(r.out, /bad superblock checksum/);
    const missing = join(work, 'no-such.img');
    const m = verify([missing]);
    assert.equal(m.status, 1);
    assert.match(m.out, new RegExp(`^${missing}: .*no such file`, 'm'));
  });
});

// ---- arbitrary values: uuid, blake3, forged ----------------------------------------------

describe('verify passes fingerprints on non-regular inodes (issue 15, finding 4)', () => {
  /** A tree whose directory, symlink and FIFO carry trusted.erofs.fingerprint (a real file's value, so only the inode kind is wrong). */
  function stampedTree(t: TestContext): string | null {
    const setfattr = findTool('setfattr');
    if (!needTool(t, setfattr, 'setfattr (package attr)')) return null;
    const root = fresh('stamped-tree');
    mkdirSync(join(root, 'd'), { recursive: true });
    writeFileSync(join(root, 'f'), 'hi\n');
    symlinkSync('f', join(root, 'l'));
    runOk('mkfifo', [join(root, 'p')]);
    const value = `0x${Buffer.concat([Buffer.from('sha256:'), sha256('hi\n')]).toString('hex')}`;
    for (const p of ['d', 'l', 'p']) runOk(setfattr!, ['-h', '-n', 'trusted.erofs.fingerprint', '-v', value, join(root, p)]);
    return root;
  }

  test('mkfs.erofs 1.9.3 keeps a source fingerprint xattr on a directory, symlink and FIFO: each is reported', (t) => {
    const mkfs = mkfs193(t);
    const root = stampedTree(t);
    if (!mkfs || !root) return;
    const img = fresh('stamped.img');
    runOk(mkfs, ['--quiet', '--xattr-inode-digest=trusted.erofs.fingerprint', '-T0', '-Uclear', img, root]);
    for (const [p, kind] of [['/d', 'directory'], ['/l', 'symlink'], ['/p', 'FIFO']]) {
      const r = assertCaught(img, p, 'fingerprint-on-non-regular');
      assert.ok(r.out.includes(`${img}: ${p}: a ${kind} carries the fingerprint xattr trusted.erofs.fingerprint`), r.out);
    }
    assert.equal(verify([img]).out.trim().split('\n').length, 3);
  });

  test('... and under the hidden name (base index 0, as mkfs.erofs --xattr-inode-digest writes it)', (t) => {
    const mkfs = mkfs193(t);
    const root = stampedTree(t);
    if (!mkfs || !root) return;
    const img = fresh('stamped-hidden.img');
    // No name filter: the filter bit depends on the base index, which the patch below changes.
    runOk(mkfs, ['--quiet', '-E^xattr-name-filter', '--xattr-inode-digest=trusted.erofs.fingerprint', '-T0', '-Uclear', img, root]);
    // The prefix record's base index (u16 size, then u8 base_index): trusted. (4) -> 0, a hidden name.
    const rec = withImage(img, (e) => e.sb.xattrPrefixStart * 4 + 2);
    assert.equal(readBytes(img, rec, 1)[0], 4);
    patch(img, rec, Buffer.from([0]));
    for (const p of ['/d', '/l', '/p']) {
      const r = assertCaught(img, p, 'fingerprint-on-non-regular');
      assert.match(r.out, /carries the fingerprint xattr erofs\.fingerprint \(hidden name\)/);
    }
    const js = verify(['--json', img]);
    assert.deepEqual([js.json!.images[0].fingerprinted, js.json!.images[0].verified], [1, 1], 'the regular file still verifies');
  });

  test('erofs-forge drops such a source xattr from every inode: its image passes', (t) => {
    const root = stampedTree(t);
    if (!root) return;
    const img = fresh('stamped-forge.img');
    const b = forge(['build', '--quiet', '-T0', '-Uclear', '--xattr-inode-digest=trusted.erofs.fingerprint', img, root]);
    assert.equal(b.status, 0, b.stderr.toString());
    assertClean([img]);
  });
});

describe('verify: uuid and blake3 fingerprints (crafted through a user.fp prefix)', () => {
  const ns = uuidParse(NS);
  const uuidOf = (content: string) => tagged('uuid:', vendorUuid(ns, sha256(content)));

  test('uncompressed verify messages: uuid fingerprints checked by nothing are reported as unchecked (text and JSON)', () => {
    const root = fresh('uuid-tree');
    makeTree(root);
    const img = fresh('uuid.img');
    const b = forge(['build', '--quiet', '-T0', '-Uclear', '--xattr-inode-digest', '--fingerprint', 'uuid', '--vendor-namespace', NS, img, root]);
    assert.equal(b.status, 0, b.stderr.toString());
    const text = verify([img]);
    assert.equal(text.status, 0, text.stderr.toString());
    assert.match(text.stderr.toString(), /6 fingerprinted \(0 verified, 6 uuid unchecked: no --vendor-namespace or --uuid-map\).*: OK; 6 uuid fingerprints NOT checked$/m);
    const js = verify(['--json', img]);
    assert.equal(js.status, 0);
    const doc = JSON.parse(js.out) as { ok: boolean; images: { unchecked: number; verified: number }[]; totals: { unchecked: number; verified: number } };
    assert.equal(doc.ok, true);
    assert.deepEqual([doc.images[0].verified, doc.images[0].unchecked, doc.totals.verified, doc.totals.unchecked], [0, 6, 0, 6]);
    // Checked, nothing is left unchecked and the verdict is a plain OK.
    const checked = verify(['--json', '--vendor-namespace', NS, img]);
    const d2 = JSON.parse(checked.out) as { totals: { unchecked: number; verified: number } };
    assert.deepEqual([d2.totals.verified, d2.totals.unchecked], [6, 0]);
    assert.match(verify(['--vendor-namespace', NS, img]).stderr.toString(), /: OK$/m);
  });

  test('forged sharing with opaque values: only the cross-image check can see it', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const forged = tagged('uuid:', Buffer.alloc(16, 0x42));
    const u1 = craftedImage(t, mkfs, { a: ['hello\n', forged], keep: ['same\n', uuidOf('same\n')] });
    const u2 = craftedImage(t, mkfs, { b: ['not hello\n', forged], keep: ['same\n', uuidOf('same\n')] });
    if (!u1 || !u2) return;
    const one = assertClean([u1]);
    assert.match(one.stderr, /2 uuid unchecked/);
    const r = assertCaught([u1, u2], '/b', 'fingerprint-conflict');
    assert.ok(r.out.includes(`at ${u1}:/a`), r.out);
    assert.equal(r.out.trim().split('\n').length, 1, r.out);
  });

  test('--vendor-namespace: a UUID that is not the namespace\'s for the content', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const img = craftedImage(t, mkfs, {
      good: ['hello\n', uuidOf('hello\n')], bad: ['changed\n', uuidOf('original\n')], big: ['x'.repeat(9000), uuidOf('x'.repeat(9000))],
    });
    if (!img) return;
    const r = assertCaught(img, '/bad', 'uuid-mismatch', ['--vendor-namespace', NS]);
    assert.equal(r.out.trim().split('\n').length, 1, r.out);
    assert.match(r.stderr, /3 fingerprinted \(2 verified\)/);
    const other = verify(['--vendor-namespace', '6ba7b810-9dad-11d1-80b4-00c04fd430c8', img]); // RFC 4122 DNS namespace
    assert.equal(other.status, 1, other.stderr);
    assert.equal(other.out.trim().split('\n').length, 3, 'a different vendor namespace matches nothing');
  });

  test('--uuid-map: entry missing, other UUID, other content; hard links resolved by any name', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const id = (n: number) => Buffer.alloc(16, n);
    const img = craftedImage(t, mkfs, {
      ok: ['ok\n', tagged('uuid:', id(1))],
      linked: ['linked\n', tagged('uuid:', id(2))],
      changed: ['changed now\n', tagged('uuid:', id(3))],
      other: ['other\n', tagged('uuid:', id(4))],
      unmapped: ['unmapped\n', tagged('uuid:', id(5))],
    }, { 'z/alias': 'linked' });
    if (!img) return;
    const map: UuidMap = new Map([
      ['/ok', { uuid: id(1), size: 3, sha256: sha256('ok\n') }],
      ['/z/alias', { uuid: id(2), size: 7, sha256: sha256('linked\n') }],
      ['/changed', { uuid: id(3), size: 8, sha256: sha256('changed\n') }],
      ['/other', { uuid: id(9), size: 6, sha256: sha256('other\n') }],
    ]);
    const mapFile = fresh('map.json');
    writeFileSync(mapFile, encodeUuidMap(map));
    const r = verify(['--json', '--uuid-map', mapFile, img]);
    assert.equal(r.status, 1);
    const got = r.json!.problems.map((p) => `${p.path} ${p.code}`).sort();
    assert.deepEqual(got, ['/changed uuid-map-content', '/other uuid-mismatch', '/unmapped uuid-not-in-map']);
    assert.equal(r.json!.images[0].verified, 2, '/ok and /linked (mapped under its other name /z/alias)');
    const text = verify(['--uuid-map', mapFile, img]);
    assert.ok(text.out.includes(`${img}: /unmapped: uuid 05050505-0505-0505-0505-050505050505 has no --uuid-map entry for /unmapped`), text.out);
  });

  test('blake3 values are recomputed', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const big = noise(3_000_000, 5);
    const img = craftedImage(t, mkfs, {
      good: ['hello\n', tagged('blake3:', blake3(Buffer.from('hello\n')))],
      bad: ['hello!\n', tagged('blake3:', blake3(Buffer.from('hello\n')))],
      big: [big, tagged('blake3:', blake3(big))],
    });
    if (!img) return;
    const r = assertCaught(img, '/bad', 'digest-mismatch');
    assert.match(r.out, /blake3 digest mismatch/);
    assert.equal(r.out.trim().split('\n').length, 2, `bad + its value shared with /good's content:\n${r.out}`);
  });
});

// ---- images built by erofs-forge itself ----------------------------------------------------

describe('verify: images built by erofs-forge', () => {
  test('sha256, blake3, vendor-namespace and uuid-map images pass together; tampered copies are caught', () => {
    const root = fresh('forge-tree');
    makeTree(root);
    const mapFile = fresh('forge-map.json');
    const built: Record<string, string> = {};
    for (const [name, flags] of Object.entries({
      sha256: ['--xattr-inode-digest'],
      blake3: ['--fingerprint', 'blake3'],
      ns: ['--fingerprint', 'uuid', '--vendor-namespace', NS],
      map: ['--fingerprint', 'uuid', '--uuid-map', mapFile],
    })) {
      built[name] = fresh(`forge-${name}.img`);
      const r = forge(['build', '--quiet', '-T0', '-Uclear', ...flags, built[name], root]);
      assert.equal(r.status, 0, r.stderr);
    }
    const all = Object.values(built);
    const ok = verify(['--json', '--vendor-namespace', NS, '--uuid-map', mapFile, ...all]);
    assert.equal(ok.status, 0, ok.out);
    assert.deepEqual(ok.json!.images.map((s) => [s.files, s.fingerprinted, s.verified, s.unchecked]), Array(4).fill([7, 6, 6, 0]));
    assert.match(verify(all).stderr, /12 uuid unchecked/);

    const sha = copyImage(built.sha256, fresh('forge-sha-tampered.img'));
    const off = firstDataOffset(sha, '/big.bin');
    patch(sha, off, Buffer.from([readBytes(sha, off, 1)[0] ^ 0x80]));
    assertCaught(sha, '/big.bin', 'digest-mismatch');
    const ns = copyImage(built.ns, fresh('forge-ns-tampered.img'));
    const off2 = firstDataOffset(ns, '/dir/note.txt');
    patch(ns, off2, Buffer.from('A'));
    assertCaught(ns, '/dir/note.txt', 'uuid-mismatch', ['--vendor-namespace', NS]);
    const map = copyImage(built.map, fresh('forge-map-tampered.img'));
    const off3 = firstDataOffset(map, '/other.txt');
    patch(map, off3, Buffer.from('O'));
    assertCaught(map, '/other.txt', 'uuid-map-content', ['--uuid-map', mapFile]);
  });
});

// ---- library and usage -------------------------------------------------------------------

describe('verify: library API and usage errors', () => {
  test('verifyImages never throws for bad input and reports per-image stats', async () => {
    const missing = join(work, 'missing.img');
    const notImage = fresh('not-an-image.img');
    writeFileSync(notImage, Buffer.alloc(8192));
    const seen: number[] = [];
    const r = await verifyImages([DIGEST_IMAGES[0], missing, notImage], { onProgress: (p) => seen.push(p.imageIndex) });
    assert.equal(r.ok, false);
    assert.deepEqual(r.problems.map((p) => [p.image, p.code]), [[missing, 'open'], [notImage, 'corrupt']]);
    assert.equal(r.images[0].files, 37);
    assert.equal(r.images[0].verified, 36);
    assert.ok(r.images[0].bytes > 160_000);
    assert.equal(r.images[1].complete, false);
    assert.equal(seen.length, 37);
  });

  test('exit 2 for usage errors: no image, bad namespace, unreadable or corrupt --uuid-map', () => {
    const none = verify([]);
    assert.equal(none.status, 2, none.stderr);
    const ns = verify(['--vendor-namespace', 'not-a-uuid', DIGEST_IMAGES[0]]);
    assert.equal(ns.status, 2, ns.stderr);
    assert.match(ns.stderr, /not a UUID/);
    const nomap = verify(['--uuid-map', join(work, 'nope.json'), DIGEST_IMAGES[0]]);
    assert.equal(nomap.status, 2, nomap.stderr);
    assert.match(nomap.stderr, /nope\.json: cannot read: no such file/);
    const bad = fresh('bad.json');
    writeFileSync(bad, '{"schema": "erofs-forge/uuid-map/1", "files": {"/a": {"uuid": "x"');
    const corrupt = verify(['--uuid-map', bad, DIGEST_IMAGES[0]]);
    assert.equal(corrupt.status, 2, corrupt.stderr);
    assert.match(corrupt.stderr, /not valid JSON/);
    assert.equal(verify(['--bogus', DIGEST_IMAGES[0]]).status, 2);
  });
});
