// `erofs-forge share-report`: exact figures for small images with a known overlap (built by
// mkfs.erofs 1.9.3), every not-sharing reason, and the figures' definitions on synthetic records.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import { findTool, forge, needTool, needVersion, runOk } from './helpers/tools.js';
import { craftImage, tagged } from './helpers/crafted.js';
import { computeShareReport, type ShareRecord, type ShareReport } from '../src/verify/share-report.js';
import { noise } from './helpers/noise.js';

const work = mkdtempSync(join(tmpdir(), 'erofs-share-'));
after(() => rmSync(work, { recursive: true, force: true }));
let seq = 0;
const fresh = (name: string): string => join(work, `${++seq}-${name}`);
const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

function mkfs193(t: TestContext): string | null {
  const mkfs = findTool('mkfs.erofs');
  return needVersion(t, mkfs, '1.9.3', 'erofs-utils 1.9.3 mkfs.erofs (set EROFS_UTILS_BIN to its bin directory)') ? mkfs : null;
}

function build(mkfs: string, files: Record<string, string | Buffer>, flags: string[], links: Record<string, string> = {}): string {
  const root = fresh('tree');
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), content);
  }
  for (const [l, target] of Object.entries(links)) linkSync(join(root, target), join(root, l));
  const img = fresh('img');
  runOk(mkfs, ['--quiet', ...flags, '-T0', '-Uclear', img, root]);
  return img;
}

function report(images: string[]): ShareReport {
  const r = forge(['share-report', '--json', ...images]);
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout.toString());
  assert.equal(doc.schema, 'erofs-forge/share-report/1');
  return doc as ShareReport;
}

const figures = (f: { files: number; fingerprinted: number; keys: number; savedPages: number; savedBytes: number }) =>
  [f.files, f.fingerprinted, f.keys, f.savedPages, f.savedBytes];

describe('share-report on mkfs.erofs 1.9.3 images', () => {
  test('two digest images and a plain one with a known overlap: figures exact', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const common = noise(10000, 1); // 3 pages
    const x = noise(5000, 2); // 2 pages
    const dup = 'dup\n'.repeat(25); // 100 bytes, 1 page
    const a = build(mkfs, { 'common.bin': common, 'x.txt': x, d1: dup, d2: dup, empty: '', onlyA: noise(300, 3) }, ['--xattr-inode-digest'], { hl: 'common.bin' });
    const b = build(mkfs, { 'common.bin': common, 'y.txt': x, onlyB: noise(7000, 4) }, ['--xattr-inode-digest']);
    const p = build(mkfs, { 'common.bin': common }, []);
    const r = report([a, b, p]);
    // A: 6 inodes (hl is common.bin), 5 fingerprinted (not the empty file), 4 keys; d1+d2 share 1 page.
    assert.deepEqual(r.images.map(figures), [[6, 5, 4, 1, 100], [3, 3, 3, 0, 0], [1, 0, 0, 0, 0]]);
    // Together: common (3 pages) and x/y (2 pages) shared by A and B, d1/d2 (1 page) inside A.
    assert.deepEqual(figures(r.total), [10, 8, 5, 6, 15100]);
    assert.equal(r.total.images, 3);
    assert.equal(r.notSharing.length, 1);
    const g = r.notSharing[0];
    assert.deepEqual(g.reasons, ['no-fingerprint']);
    assert.equal(g.sha256, sha(common));
    assert.deepEqual(g.sizes, [10000]);
    assert.equal(g.pages, 3);
    assert.equal(g.lostPages, 3, 'three copies, only A and B share: one copy of 3 pages too many');
    assert.deepEqual(g.members.map((m) => [m.image, m.path, m.fingerprint === null]), [[a, '/common.bin', false], [b, '/common.bin', false], [p, '/common.bin', true]]);
    assert.deepEqual(r.conflicts, []);

    const text = forge(['share-report', a, b, p]);
    assert.equal(text.status, 0);
    const out = text.stdout.toString();
    const rows = out.split('\n').slice(0, 5).map((l) => l.trim().split(/\s{2,}/));
    assert.deepEqual(rows[0], ['image', 'files', 'fingerprinted', 'keys', 'saved pages', 'saved bytes']);
    assert.deepEqual(rows[1], [a, '6', '5', '4', '1', '100']);
    assert.deepEqual(rows[4], ['total (3 images)', '10', '8', '5', '6', '15100']);
    assert.match(out, /keeps 6 pages of 4096 B \(24\.0 KiB\) once instead of several times \(15100 bytes of file content\)/);
    assert.match(out, /Not sharing: 1 group \(3 pages kept more than once\):\n {2}content sha256:[0-9a-f]{16}…, 10000 bytes, 3 copies, 3 pages lost: no fingerprint on some copies/);
  });

  test('compressed and uncompressed copies of the same bytes do not share', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const text = 'compressible text\n'.repeat(1200); // 21600 bytes, 6 pages
    const plain = build(mkfs, { 'text.txt': text }, ['--xattr-inode-digest']);
    const lz4 = build(mkfs, { 'text.txt': text }, ['--xattr-inode-digest', '-zlz4']);
    const r = report([plain, lz4]);
    assert.deepEqual(figures(r.total), [2, 2, 2, 0, 0]);
    assert.equal(r.notSharing.length, 1);
    const g = r.notSharing[0];
    assert.deepEqual(g.reasons, ['layout']);
    assert.equal(g.lostPages, 6);
    assert.deepEqual(g.members.map((m) => m.layout), ['plain', 'compressed']);
    assert.equal(g.members[0].fingerprint, g.members[1].fingerprint, 'same value: only the layout differs');
  });

  test('size mismatch, different values for the same bytes, and a forged key (crafted values)', (t) => {
    const mkfs = mkfs193(t);
    if (!mkfs) return;
    const setfattr = findTool('setfattr');
    if (!needTool(t, setfattr, 'setfattr (package attr)')) return;
    const v = (n: number) => tagged('uuid:', Buffer.alloc(16, n));
    const s1 = craftImage(mkfs, setfattr, fresh('s1'), fresh('s1.img'), { f: ['abc', v(1)], g: ['hello', v(2)] });
    const s2 = craftImage(mkfs, setfattr, fresh('s2'), fresh('s2.img'), { f: ['abcd', v(1)], g2: ['hello', v(3)], h: ['HELLO', v(2)] });
    const r = report([s1, s2]);
    // Keys: v1/3, v2/5 (s1:/g and s2:/h: the kernel WOULD share them), v1/4, v3/5.
    assert.deepEqual(figures(r.total), [5, 5, 4, 1, 5]);
    const byReason = Object.fromEntries(r.notSharing.map((g) => [g.reasons.join('+'), g]));
    assert.deepEqual(Object.keys(byReason).sort(), ['different-values', 'size-mismatch']);
    assert.equal(byReason['different-values'].sha256, sha('hello'));
    assert.equal(byReason['different-values'].lostPages, 1);
    assert.deepEqual(byReason['different-values'].members.map((m) => `${m.image}:${m.path}`), [`${s1}:/g`, `${s2}:/g2`]);
    assert.deepEqual(byReason['size-mismatch'].sizes, [3, 4]);
    assert.equal(byReason['size-mismatch'].fingerprint, `uuid:${'01'.repeat(16)}`);
    assert.equal(r.conflicts.length, 1);
    assert.deepEqual(r.conflicts[0].contents.map((c) => [c.sha256, c.members.map((m) => `${m.image}:${m.path}`)]),
      [[sha('hello'), [`${s1}:/g`]], [sha('HELLO'), [`${s2}:/h`]]]);
    const out = forge(['share-report', s1, s2]).stdout.toString();
    assert.match(out, /WRONG SHARING: 1 fingerprint on different contents/);
  });

  test('an unreadable image is an error (exit 1) naming it; no image is a usage error (2)', () => {
    const missing = join(work, 'missing.img');
    const r = forge(['share-report', missing]);
    assert.equal(r.status, 1);
    assert.ok(r.stderr.includes(missing), r.stderr);
    assert.equal(forge(['share-report']).status, 2);
  });
});

describe('share-report figures on synthetic records', () => {
  const rec = (image: number, path: string, size: number, content: string, value: string | null, layout: 'plain' | 'compressed' = 'plain', nid = 0): ShareRecord => ({
    image, path, nid, size, layout, value: value === null ? null : Buffer.from(value), sha256: sha(content),
  });

  test('keys are (value, size, layout); saved = (N-1) x pages per key; every reason listed', () => {
    const big = 4096 * 2 + 1; // 3 pages
    const recs: ShareRecord[] = [
      rec(0, '/a', big, 'A', 'v:A'), rec(1, '/a', big, 'A', 'v:A'), rec(2, '/a', big, 'A', 'v:A'), // 3 copies, one key: 6 pages saved
      rec(0, '/z', big, 'Z', 'v:Z'), rec(1, '/z', big, 'Z', 'v:Z', 'compressed'), // layout
      rec(0, '/n', 10, 'N', null), rec(1, '/n', 10, 'N', 'v:N'), // no fingerprint
      rec(0, '/d', 4096, 'D', 'v:D1'), rec(1, '/d', 4096, 'D', 'v:D2'), // different values
      rec(0, '/e', 0, '', null), rec(1, '/e', 0, '', null), // empty files: nothing to share, never listed
    ];
    const r = computeShareReport(['i0', 'i1', 'i2'], recs);
    assert.deepEqual(r.images.map(figures), [[5, 3, 3, 0, 0], [5, 4, 4, 0, 0], [1, 1, 1, 0, 0]]);
    // Keys: v:A (3 members), v:Z plain, v:Z compressed, v:N, v:D1, v:D2.
    assert.deepEqual(figures(r.total), [11, 8, 6, 6, 2 * big]);
    // Largest loss first, then by content digest.
    const ties = [['/d', ['different-values'], 1, sha('D')], ['/n', ['no-fingerprint'], 1, sha('N')]] as const;
    const expected = [['/z', ['layout'], 3], ...[...ties].sort((x, y) => (x[3] < y[3] ? -1 : 1)).map((x) => x.slice(0, 3))];
    assert.deepEqual(r.notSharing.map((g) => [g.members[0].path, g.reasons, g.lostPages]), expected);
    assert.deepEqual(r.conflicts, []);
  });
});
