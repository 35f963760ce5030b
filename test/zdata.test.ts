// Compressed inodes: the reader (src/read/zdata.ts) against the reference writer. Every file of every
// mkfs.erofs 1.9.3 reference image and of a matrix of generated images must read back as its source
// bytes; extent maps must equal `dump.erofs -e`; mkfs's index bytes must be what our encoders produce
// from the decoded extents; corrupted indexes and pclusters must fail with CorruptImageError.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { ErofsImage, type InodeInfo } from '../src/read/image.js';
import { compressedExtents, readCompressionConfigs, type ZExtent } from '../src/read/zdata.js';
import {
  ADVISE_COMPACTED_2B, ADVISE_BIG_PCLUSTER_1, ADVISE_BIG_PCLUSTER_2, ADVISE_INLINE_PCLUSTER, LCLUSTER_TYPE_PLAIN, LCLUSTER_TYPE_HEAD1,
  LCLUSTER_TYPE_HEAD2, LCLUSTER_TYPE_NONHEAD, LI_D0_CBLKCNT, LI_PARTIAL_REF, FULL_INDEX_SIZE, MAP_HEADER_SIZE, COMPRESSION_LZ4,
  COMPRESSION_DEFLATE, mapHeaderOffset, fullIndexStart, compactIndexStart, compactLayout, compactEntryPosition,
  decodeMapHeader, encodeMapHeader, decodeFullIndex, encodeFullIndex, encodeFullIndexes, encodeCompactIndexes,
  decodeCompactPack, type LclusterIndex,
} from '../src/format/zmap.js';
import { encodeLz4Cfgs, decodeLz4Cfgs, encodeDeflateCfgs, decodeDeflateCfgs, encodeCfgRecords, decodeCfgRecords } from '../src/format/compr-cfgs.js';
import { INODE_COMPRESSED_FULL, INODE_COMPRESSED_COMPACT, FEATURE_INCOMPAT_BIG_PCLUSTER, FEATURE_COMPAT_SB_CHKSUM } from '../src/format/constants.js';
import { stampSuperBlockChecksum } from '../src/format/superblock.js';
import { CorruptImageError, UnsupportedFeatureError } from '../src/errors.js';
import { findTool, debianTool, needTool, needVersion, run, runOk, inCI, REPO_ROOT, REFERENCE_IMAGES } from './helpers/tools.js';

const REF_DIR = REFERENCE_IMAGES;
const REF_IMAGES = ['lz4.img', 'lz4hc-64k-ztailpacking.img', 'deflate.img', 'libdeflate-16k.img', 'lz4-fragments-dedupe.img', 'lz4hc-dedupe.img', 'plain.img'];
const NEEDS = 'erofs-utils 1.9.3 (set EROFS_UTILS_BIN to its bin directory)';

const isCompressed = (i: InodeInfo): boolean => i.datalayout === INODE_COMPRESSED_FULL || i.datalayout === INODE_COMPRESSED_COMPACT;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function tmpDir(t: TestContext, tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `zdata-${tag}-`));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** sha256 and length of an inode's data as the reader streams it. */
function digestOf(img: ErofsImage, ino: InodeInfo): { hash: string; length: number; chunks: number } {
  const h = createHash('sha256');
  let length = 0;
  let chunks = 0;
  for (const c of img.data(ino)) {
    h.update(c);
    length += c.length;
    chunks++;
  }
  return { hash: h.digest('hex'), length, chunks };
}

/** Walk an image and compare every regular file with `root/<path>`; returns the number of compressed files. */
function compareWithSource(imgPath: string, root: string): { files: number; compressed: number } {
  const img = ErofsImage.open(imgPath);
  try {
    let files = 0;
    let compressed = 0;
    img.walk((p, ino) => {
      if (ino.kind !== 'reg') return;
      const want = fs.readFileSync(path.join(root, p.toString('latin1')));
      const got = digestOf(img, ino);
      assert.equal(got.length, want.length, `${imgPath}: /${p}: length`);
      assert.equal(got.hash, sha(want), `${imgPath}: /${p}: content`);
      files++;
      if (isCompressed(ino)) compressed++;
    });
    return { files, compressed };
  } finally {
    img.close();
  }
}

// ---- dump.erofs -e as the extent-map oracle -------------------------------------------------

type ExtRow = [la: number, end: number, llen: number, pa: number, pend: number, plen: number];

function dumpExtents(dump: string, imgPath: string, p: string): ExtRow[] {
  const out = runOk(dump, ['-e', `--path=/${p}`, imgPath]).stdout.toString();
  return [...out.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+) \|\s*(\d+) :\s+(\d+)\.\.\s*(\d+) \|\s*(\d+)/gm)]
    .map((m) => m.slice(1, 7).map(Number) as ExtRow);
}

function ourRows(exts: ZExtent[]): ExtRow[] {
  return exts.map((e) => [e.la, e.la + e.llen, e.llen, e.pa, e.pa + e.plen, e.plen]);
}

const ALG_NAMES = ['lz4', 'lzma', 'deflate', 'zstd'];

/** Feature keys seen in an image's compressed inodes, for the coverage assertion. */
function features(img: ErofsImage, ino: InodeInfo, exts: ZExtent[], into: Set<string>): void {
  const bs = img.blockSize;
  into.add(ino.datalayout === INODE_COMPRESSED_FULL ? 'FULL' : 'COMPACT');
  into.add(`bs${bs}`);
  const h = decodeMapHeader(img.readAt(mapHeaderOffset(ino.iloc + ino.isize + ino.xattrSize), MAP_HEADER_SIZE, 'test'), 0);
  if (h.kind === 'fragment-inode') into.add('whole-file fragment');
  else if (ino.datalayout === INODE_COMPRESSED_COMPACT) {
    const l = compactLayout(compactIndexStart(ino.iloc + ino.isize + ino.xattrSize), Math.ceil(ino.size / bs), (h.advise & ADVISE_COMPACTED_2B) !== 0);
    into.add(l.count2B > 0 ? 'compact 2B packs' : 'compact 4B packs only');
  }
  for (const e of exts) {
    if (e.kind === 'compressed') into.add(ALG_NAMES[e.algorithm] ?? `alg${e.algorithm}`);
    else into.add(e.kind);
    if (e.kind === 'fragment' && e.la > 0) into.add('tail fragment');
    if (e.plen > bs) into.add('big pcluster');
    if (e.inline) into.add('ztailpacking');
    if (e.interlaced) into.add('interlaced');
    if (e.partialRef) into.add(`partial ${ALG_NAMES[e.algorithm] ?? e.algorithm}`);
  }
}

// ---- our encoders reproduce mkfs's index bytes from the decoded extents ---------------------

/** The FULL-style indexes mkfs writes for these extents (z_erofs_write_full_indexes + the EOF sentinel). */
function indexesOf(exts: ZExtent[], size: number, bs: number, sbBig: boolean, blkaddrOf: (e: ZExtent) => number): LclusterIndex[] {
  const n = Math.ceil(size / bs);
  const xs: LclusterIndex[] = new Array(n);
  for (const e of exts) {
    const end = e.la + e.llen;
    const h = Math.floor(e.la / bs);
    xs[h] = { type: e.kind === 'plain' ? LCLUSTER_TYPE_PLAIN : LCLUSTER_TYPE_HEAD1, clusterofs: e.la % bs, blkaddr: blkaddrOf(e), partialRef: e.partialRef };
    const next = Math.floor(end / bs);
    for (let j = h + 1; (j + 1) * bs <= end; j++) {
      // mkfs counts an inline (ztailpacking) pcluster as one block, a fragment as none.
      const cblks = e.inline ? 1 : Math.floor(e.plen / bs);
      const d0 = j === h + 1 && sbBig ? LI_D0_CBLKCNT | cblks : Math.min(j - h, LI_D0_CBLKCNT - 1);
      xs[j] = { type: LCLUSTER_TYPE_NONHEAD, delta0: d0, delta1: next - j };
    }
  }
  if (size % bs && xs[n - 1] === undefined) xs[n - 1] = { type: LCLUSTER_TYPE_PLAIN, clusterofs: size % bs, blkaddr: 0, partialRef: false };
  return xs;
}

/** Re-encode an inode's indexes from its extents; returns a mismatch description or null. */
function reencodeMismatch(img: ErofsImage, ino: InodeInfo, exts: ZExtent[]): string | null {
  const bs = img.blockSize;
  const end = ino.iloc + ino.isize + ino.xattrSize;
  const hb = img.readAt(mapHeaderOffset(end), MAP_HEADER_SIZE, 'test');
  const h = decodeMapHeader(hb, 0);
  if (Buffer.compare(encodeMapHeader(h), hb) !== 0) return 'map header';
  if (h.kind === 'fragment-inode') return null;
  const sbBig = (img.sb.featureIncompat & FEATURE_INCOMPAT_BIG_PCLUSTER) !== 0;
  const n = Math.ceil(ino.size / bs);
  if (ino.datalayout === INODE_COMPRESSED_FULL) {
    const start = fullIndexStart(end);
    const raw = img.readAt(start, n * FULL_INDEX_SIZE, 'test');
    // Head blkaddrs of inline and fragment extents are whatever mkfs had at hand: take them from the image.
    const xs = indexesOf(exts, ino.size, bs, sbBig, (e) => (e.kind === 'fragment' || e.inline
      ? new DataView(raw.buffer, raw.byteOffset).getUint32(Math.floor(e.la / bs) * FULL_INDEX_SIZE + 4, true)
      : e.pa / bs));
    const mine = encodeFullIndexes(xs);
    for (let k = 0; k < n; k++) {
      if (Buffer.compare(mine.subarray(k * 8, k * 8 + 8), raw.subarray(k * 8, k * 8 + 8)) !== 0) {
        return `FULL index ${k}: ours ${Buffer.from(mine.subarray(k * 8, k * 8 + 8)).toString('hex')} mkfs ${Buffer.from(raw.subarray(k * 8, k * 8 + 8)).toString('hex')}`;
      }
    }
    return null;
  }
  const ebase = compactIndexStart(end);
  const l = compactLayout(ebase, n, (h.advise & ADVISE_COMPACTED_2B) !== 0);
  const raw = img.readAt(ebase, l.bytes, 'test');
  const first = compactEntryPosition(l, 0);
  const base0 = decodeCompactPack(raw, first.packOff - ebase, first.vcnt, 12).base;
  const xs = indexesOf(exts, ino.size, bs, sbBig, () => 0);
  const mine = encodeCompactIndexes(xs, {
    layout: l, bigPcluster: sbBig, lclusterbits: img.sb.blkszbits,
    startBlkaddr: sbBig ? base0 : base0 + 1,
  });
  if (Buffer.compare(mine, raw) !== 0) {
    let k = 0;
    while (mine[k] === raw[k]) k++;
    return `COMPACT byte ${k} of ${l.bytes}: ours ${Buffer.from(mine.subarray(k & ~7, (k & ~7) + 16)).toString('hex')} mkfs ${Buffer.from(raw.subarray(k & ~7, (k & ~7) + 16)).toString('hex')}`;
  }
  return null;
}

interface CheckResult { files: number; compressed: number; features: Set<string> }

/**
 * The full check of one image against its source tree: bytes, `dump.erofs -e` extents (when `dump` is
 * given) and re-encoded index bytes for every compressed file.
 */
function checkImage(imgPath: string, root: string, dump: string | null, seen: Set<string>): CheckResult {
  const { files, compressed } = compareWithSource(imgPath, root);
  const img = ErofsImage.open(imgPath);
  try {
    img.walk((p, ino) => {
      if (!isCompressed(ino)) return;
      const exts = [...compressedExtents(img, ino)];
      features(img, ino, exts, seen);
      if (ino.kind === 'dir') seen.add('compressed directory');
      if (dump) assert.deepEqual(ourRows(exts), dumpExtents(dump, imgPath, p.toString('latin1')), `${imgPath}: /${p}: extents differ from dump.erofs -e`);
      const bad = reencodeMismatch(img, ino, exts);
      assert.equal(bad, null, `${imgPath}: /${p} (nid ${ino.nid}): ${bad}`);
    });
  } finally {
    img.close();
  }
  return { files, compressed, features: seen };
}

// ---- the reference images -----------------------------------------------------------------

/** Gate on the reference images: skip on a developer machine without them, fail in CI. */
function needRef(t: TestContext): boolean {
  if (fs.existsSync(path.join(REF_DIR, 'lz4.img'))) return true;
  if (inCI()) throw new Error(`needs the reference images in ${REF_DIR}`);
  t.skip(`needs the reference images in ${REF_DIR}`);
  return false;
}

let sampleTree: string | null = null;
function extractSampleTree(t: TestContext): string | null {
  if (sampleTree) return sampleTree;
  const tar = path.join(REF_DIR, 'sample-tree.tar');
  if (!needRef(t)) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zdata-sample-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  // Contents are all we compare; --xattrs would need root for nothing here.
  runOk('tar', ['-xf', tar, '-C', dir]);
  sampleTree = dir;
  return dir;
}

test('reference images (mkfs.erofs 1.9.3): every file reads back as the sample tree, extents as dump.erofs', (t) => {
  const root = extractSampleTree(t);
  if (!root) return;
  const dump = findTool('dump.erofs');
  if (!needVersion(t, dump, '1.9', `dump.erofs from ${NEEDS}`)) return;
  const seen = new Set<string>();
  for (const name of REF_IMAGES) {
    const r = checkImage(path.join(REF_DIR, name), root, dump, seen);
    assert.equal(r.files, 38, `${name}: regular files`);
    if (name !== 'plain.img') assert.ok(r.compressed >= 2, `${name}: only ${r.compressed} compressed files`);
  }
  for (const f of ['COMPACT', 'FULL', 'lz4', 'deflate', 'plain', 'big pcluster', 'ztailpacking', 'whole-file fragment', 'tail fragment']) {
    assert.ok(seen.has(f), `reference images no longer exercise "${f}" (saw ${[...seen].join(', ')})`);
  }
});

test('compression config records of the reference images', (t) => {
  if (!needRef(t)) return;
  const cfg = (name: string) => {
    const img = ErofsImage.open(path.join(REF_DIR, name));
    try { return readCompressionConfigs(img); } finally { img.close(); }
  };
  assert.deepEqual(cfg('lz4.img'), { algs: 1, lz4: { maxDistance: 65535, maxPclusterBlks: 1 }, deflate: null, lzma: null, zstd: null });
  assert.deepEqual(cfg('lz4hc-64k-ztailpacking.img'), { algs: 1, lz4: { maxDistance: 65535, maxPclusterBlks: 16 }, deflate: null, lzma: null, zstd: null });
  assert.deepEqual(cfg('deflate.img'), { algs: 4, lz4: null, deflate: { windowBits: 15 }, lzma: null, zstd: null });
  // libdeflate writes windowbits 0 (the kernel only rejects > 15).
  assert.deepEqual(cfg('libdeflate-16k.img'), { algs: 4, lz4: null, deflate: { windowBits: 0 }, lzma: null, zstd: null });
});

// ---- the generated matrix -----------------------------------------------------------------

/** Deterministic pseudo-random bytes (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

function makeText(rnd: () => number, n: number): Buffer {
  const words: string[] = [];
  for (let i = 0; i < 400; i++) {
    let w = '';
    const len = 2 + Math.floor(rnd() * 9);
    for (let k = 0; k < len; k++) w += String.fromCharCode(97 + Math.floor(rnd() * rnd() * 26));
    words.push(w);
  }
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    const w = words[Math.floor(rnd() * rnd() * words.length)] + (rnd() < 0.08 ? '.\n' : ' ');
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

function makeRandom(rnd: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

/**
 * A few MiB of mixed input: real text and binaries from the system when present, and synthetic files
 * for the cases mkfs must meet: duplicates and shared prefixes (dedupe, PARTIAL_REF), long zero runs
 * (long extents), random data (PLAIN), alternating runs, sizes around block boundaries.
 */
function buildCorpus(dir: string): void {
  const rnd = prng(20261125);
  const real = path.join(dir, 'real');
  const syn = path.join(dir, 'syn');
  fs.mkdirSync(real, { recursive: true });
  fs.mkdirSync(syn, { recursive: true });
  let budget = 2 << 20;
  const take = (src: string, maxFile: number) => {
    let names: string[];
    try { names = fs.readdirSync(src).sort(); } catch { return; }
    for (const n of names) {
      if (budget <= 0) return;
      const p = path.join(src, n);
      let st: fs.Stats;
      try { st = fs.statSync(p); } catch { continue; }
      if (!st.isFile() || st.size < 4096 || st.size > maxFile || st.size > budget) continue;
      try { fs.copyFileSync(p, path.join(real, n)); } catch { continue; }
      budget -= st.size;
    }
  };
  take('/usr/share/common-licenses', 64 << 10);
  take('/usr/lib/x86_64-linux-gnu', 300 << 10);
  take('/usr/lib', 300 << 10);
  const text = makeText(rnd, 600_000);
  const w = (name: string, data: Uint8Array) => fs.writeFileSync(path.join(syn, name), data);
  w('text600k', text);
  w('text600k.dup', text);
  w('text600k.prefix', Buffer.concat([text.subarray(0, 300_000), makeText(rnd, 50_000)]));
  w('text600k.shifted', Buffer.concat([Buffer.from('xyz'), text.subarray(0, 200_000)]));
  w('zeros3m', Buffer.alloc(3 << 20));
  w('rand200k', makeRandom(rnd, 200_000));
  const mixed: Buffer[] = [];
  for (let i = 0; i < 40; i++) mixed.push(i % 3 === 0 ? makeRandom(rnd, 5000) : makeText(rnd, 7000));
  w('mixed', Buffer.concat(mixed));
  for (const n of [1, 2, 100, 4095, 4096, 4097, 8191, 8192, 12289, 65536, 65537]) {
    w(`t${n}`, makeText(rnd, n));
    w(`z${n}`, Buffer.alloc(n));
    w(`r${n}`, makeRandom(rnd, n));
  }
  w('empty', Buffer.alloc(0));
  // A directory of several blocks, for --zD (compressed directories).
  const many = path.join(dir, 'many');
  fs.mkdirSync(many);
  for (let i = 0; i < 400; i++) fs.writeFileSync(path.join(many, `entry-with-a-rather-long-name-${String(i).padStart(4, '0')}`), '');
}

/** mkfs.erofs 1.9.3 option sets: every index layout, pcluster size, block size and -E feature we read. */
const MATRIX: string[][] = [
  ['-zlz4'],
  ['-zlz4', '-C16384'],
  ['-zlz4', '-b4096', '-C4096'],
  ['-zlz4hc', '-C65536', '-Eztailpacking'],
  ['-zlz4hc,level=12', '-C1048576'],
  ['-zlz4', '-Elegacy-compress'],
  ['-zlz4hc', '-C16384', '-Elegacy-compress'],
  ['-zlz4', '-Efragments'],
  ['-zlz4hc', '-C16384', '-Ededupe'],
  ['-zlz4', '-b1024', '-Efragments,dedupe'],
  ['-zlz4hc', '-b512', '-C65536', '-Eztailpacking'],
  ['-zlz4hc', '-b512', '-Efragments,dedupe,ztailpacking'],
  // mkfs 1.9.3 inverts --zD's value: --zD and --zD=0 compress directories, --zD=1 does not.
  ['-zlz4', '--zD', '-Eztailpacking'],
  ['-zlz4hc', '-C65536', '--max-extent-bytes=16384'],
  ['-zdeflate'],
  ['-zdeflate', '-C1048576', '-Eztailpacking'],
  ['-zdeflate', '-Ededupe'],
  ['-zdeflate', '-b512', '-C65536', '-Eztailpacking'],
  ['-zlibdeflate', '-C16384', '-Efragments'],
  ['-zlibdeflate', '-b1024', '-C1048576', '-Efragments'],
  ['-zlibdeflate', '-C65536', '-Elegacy-compress'],
  ['-zzstd'],
  ['-zzstd,22', '-C65536', '-Eztailpacking'],
  ['-zzstd', '-b1024', '-C16384', '-Efragments,dedupe'],
  ['-zlzma'],
  ['-zlzma,109', '-C65536', '-Eztailpacking,dedupe'],
  ['-zlzma,0', '-b512', '-C16384', '-Efragments'],
];

let corpusDir: string | null = null;
function corpus(): string {
  if (!corpusDir) {
    corpusDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zdata-corpus-'));
    process.on('exit', () => fs.rmSync(corpusDir!, { recursive: true, force: true }));
    buildCorpus(corpusDir);
  }
  return corpusDir;
}

function mkfs193(t: TestContext): string | null {
  const mkfs = findTool('mkfs.erofs');
  return needVersion(t, mkfs, '1.9.3', `mkfs.erofs from ${NEEDS}`) ? mkfs : null;
}

test('generated images (mkfs.erofs 1.9.3 matrix): bytes, dump.erofs extents and index bytes', (t) => {
  const mkfs = mkfs193(t);
  if (!mkfs) return;
  const dump = findTool('dump.erofs');
  if (!needVersion(t, dump, '1.9', `dump.erofs from ${NEEDS}`)) return;
  const src = corpus();
  const out = tmpDir(t, 'matrix');
  const seen = new Set<string>();
  for (const [k, opts] of MATRIX.entries()) {
    const img = path.join(out, `m${k}.img`);
    runOk(mkfs, ['--quiet', '-T0', '-Uclear', ...opts, img, src]);
    const r = checkImage(img, src, dump, seen);
    assert.ok(r.files > 40, `${opts.join(' ')}: ${r.files} files`);
    assert.ok(r.compressed > 0, `${opts.join(' ')}: no compressed file`);
    fs.rmSync(img);
  }
  for (const f of ['COMPACT', 'FULL', 'compact 2B packs', 'compact 4B packs only', 'lz4', 'deflate', 'plain', 'big pcluster',
    'ztailpacking', 'interlaced', 'whole-file fragment', 'tail fragment', 'partial lz4', 'partial deflate', 'compressed directory', 'zstd', 'lzma',
    'bs512', 'bs1024', 'bs4096']) {
    assert.ok(seen.has(f), `the matrix no longer exercises "${f}" (saw ${[...seen].join(', ')})`);
  }
});

test('Debian mkfs.erofs 1.5 LZ4 images read back; its !0PADDING legacy layout is reported unsupported', (t) => {
  const mkfs = debianTool('mkfs.erofs');
  if (!needTool(t, mkfs, "Debian's mkfs.erofs 1.5 (/usr/bin/mkfs.erofs)")) return;
  const src = corpus();
  const out = tmpDir(t, 'deb');
  const seen = new Set<string>();
  for (const [k, opts] of [['-zlz4'], ['-zlz4hc', '-C65536', '-Eztailpacking'], ['-zlz4hc', '-Efragments,dedupe']].entries()) {
    const img = path.join(out, `d${k}.img`);
    runOk(mkfs, ['-T0', ...opts, img, src]);
    checkImage(img, src, null, seen);
  }
  assert.ok(seen.has('ztailpacking') && seen.has('big pcluster'));
  // 1.5's -Elegacy-compress drops LZ4_0PADDING (pre-5.3 layout; erofs-utils 1.9.3 cannot read it either).
  const img = path.join(out, 'legacy.img');
  runOk(mkfs, ['-T0', '-zlz4', '-Elegacy-compress', img, src]);
  const e = ErofsImage.open(img);
  try {
    let unsupported = 0;
    e.walk((p, ino) => {
      if (ino.kind !== 'reg') return;
      try {
        const got = digestOf(e, ino);
        assert.equal(got.hash, sha(fs.readFileSync(path.join(src, p.toString('latin1')))), `/${p}`);
      } catch (err) {
        if (!(err instanceof UnsupportedFeatureError)) throw err;
        assert.match(err.message, /0PADDING/);
        unsupported++;
      }
    });
    assert.ok(unsupported > 0);
  } finally {
    e.close();
  }
});

test('zstd and LZMA (mkfs.erofs 1.9.3): cfgs records as mkfs writes them; a damaged stream fails naming the nid', (t) => {
  const mkfs = mkfs193(t);
  if (!mkfs) return;
  const dir = tmpDir(t, 'alg');
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const text = makeText(prng(3), 50_000);
  fs.writeFileSync(path.join(src, 'a.txt'), text);
  // -C65536: zstd window 8 x 64 KiB = 512 KiB, LZMA dictionary 4 x 64 KiB = 256 KiB (mkfs 1.9.3's defaults).
  for (const [alg, cfgs] of [['lzma', { lzma: { dictSize: 256 << 10 }, zstd: null }], ['zstd', { lzma: null, zstd: { windowSize: 512 << 10 } }]] as const) {
    const img = path.join(dir, `${alg}.img`);
    runOk(mkfs, ['--quiet', '-T0', '-Uclear', `-z${alg}`, '-C65536', img, src]);
    const e = ErofsImage.open(img);
    let pa = 0;
    let nid = 0;
    try {
      assert.deepEqual(readCompressionConfigs(e), { algs: alg === 'lzma' ? 2 : 8, lz4: null, deflate: null, ...cfgs });
      const ino = e.lookup('/a.txt');
      nid = ino.nid;
      assert.ok(isCompressed(ino));
      assert.equal(sha(Buffer.concat([...e.data(ino)])), sha(text));
      const x = [...compressedExtents(e, ino)][0];
      assert.equal(x.kind, 'compressed');
      pa = x.pa;
    } finally {
      e.close();
    }
    const b = fs.readFileSync(img);
    while (b[pa] === 0) pa++;
    // LZMA: a byte near the end breaks the range coder's final state; zstd (no checksum, so a
    // literal byte would go unnoticed, as in the kernel): the frame header's reserved bit.
    if (alg === 'lzma') b[pa + 200] ^= 0x55;
    else b[pa + 4] |= 0x08;
    const bad = path.join(dir, `${alg}-bad.img`);
    fs.writeFileSync(bad, b);
    assert.throws(() => readFile(bad, '/a.txt'), (err: unknown) => err instanceof CorruptImageError
      && new RegExp(`^nid ${nid}: corrupt compressed data \\(${alg} extent`).test(err.message), alg);
  }
});

// ---- the import order of image.ts and zdata.ts ----------------------------------------------

test('importing image.ts alone (or zdata.ts first) installs the compressed reader, no cycle', (t) => {
  if (!needRef(t)) return;
  const img = path.join(REF_DIR, 'lz4.img');
  const dist = path.join(REPO_ROOT, 'dist', 'src', 'read');
  const body = (first: string) => `
    ${first}
    const { ErofsImage } = await import(${JSON.stringify(path.join(dist, 'image.js'))});
    const e = ErofsImage.open(${JSON.stringify(img)});
    const i = e.lookup('/text-100k.txt');
    let n = 0; for (const c of e.data(i)) n += c.length;
    console.log(i.datalayout, n);`;
  for (const first of ['', `await import(${JSON.stringify(path.join(dist, 'zdata.js'))});`]) {
    const r = run(process.execPath, ['--input-type=module', '-e', body(first)]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString().trim(), '3 100000');
  }
});

// ---- format unit checks -------------------------------------------------------------------

test('map header, FULL index and config record codecs round-trip', () => {
  const hs = [
    { kind: 'indexes', fragmentOff: 0, idataSize: 0x123, advise: ADVISE_COMPACTED_2B | ADVISE_INLINE_PCLUSTER, algorithmType: [0, 2], clusterBits: 0 },
    { kind: 'indexes', fragmentOff: 0xdeadbeef, idataSize: 0, advise: 0x21, algorithmType: [2, 0], clusterBits: 0 },
    { kind: 'fragment-inode', fragmentOff: 0x1234_5678_9abcn },
  ] as const;
  for (const h of hs) assert.deepEqual(decodeMapHeader(encodeMapHeader(structuredClone(h) as never), 0), h);
  // mkfs bytes: random-50k.bin in lz4-fragments-dedupe.img (COMPACTED_2B | FRAGMENT, h_fragmentoff 6).
  assert.equal(Buffer.from(encodeMapHeader({ kind: 'indexes', fragmentOff: 6, idataSize: 0, advise: 0x21, algorithmType: [0, 0], clusterBits: 0 })).toString('hex'), '0600000021000000');
  assert.equal(Buffer.from(encodeMapHeader({ kind: 'fragment-inode', fragmentOff: 5n })).toString('hex'), '0500000000000080');
  const xs: LclusterIndex[] = [
    { type: LCLUSTER_TYPE_HEAD1, clusterofs: 0, blkaddr: 17, partialRef: true },
    { type: LCLUSTER_TYPE_NONHEAD, delta0: LI_D0_CBLKCNT | 4, delta1: 3 },
    { type: LCLUSTER_TYPE_HEAD2, clusterofs: 4095, blkaddr: 0xffffffff, partialRef: false },
    { type: LCLUSTER_TYPE_PLAIN, clusterofs: 100, blkaddr: 0, partialRef: false },
  ];
  const b = new Uint8Array(8 * xs.length);
  xs.forEach((x, i) => encodeFullIndex(x, b, 8 * i));
  assert.equal(Buffer.from(b.subarray(0, 16)).toString('hex'), '0180000011000000' + '0200000004080300');
  assert.equal(new DataView(b.buffer).getUint16(0, true) & LI_PARTIAL_REF, LI_PARTIAL_REF);
  xs.forEach((x, i) => assert.deepEqual(decodeFullIndex(b, 8 * i), x));
  // Config records: mkfs bytes for -zlz4hc -C65536 (14-byte LZ4 record) and built-in deflate.
  assert.equal(Buffer.from(encodeCfgRecords([encodeLz4Cfgs({ maxDistance: 65535, maxPclusterBlks: 16 })])).toString('hex'), '0e00ffff1000' + '00'.repeat(10));
  assert.equal(Buffer.from(encodeCfgRecords([encodeDeflateCfgs({ windowBits: 15 })])).toString('hex'), '06000f' + '00'.repeat(5));
  const two = encodeCfgRecords([encodeLz4Cfgs({ maxDistance: 4096, maxPclusterBlks: 0 }), encodeDeflateCfgs({ windowBits: 12 })]);
  const recs = decodeCfgRecords((o, l) => two.subarray(o, o + l), 0, 0b101);
  assert.deepEqual(decodeLz4Cfgs(recs.get(0)!, 4096), { maxDistance: 4096, maxPclusterBlks: 1 });
  assert.deepEqual(decodeDeflateCfgs(recs.get(2)!), { windowBits: 12 });
  assert.throws(() => decodeLz4Cfgs(encodeLz4Cfgs({ maxDistance: 1, maxPclusterBlks: 257 }), 4096), CorruptImageError);
  assert.throws(() => decodeDeflateCfgs(encodeDeflateCfgs({ windowBits: 16 })), CorruptImageError);
  assert.throws(() => decodeCfgRecords(() => new Uint8Array(2), 0, 1), CorruptImageError);
});

test('compact layout: 4B head run to a 32-byte boundary, 2B packs, 4B tail (kernel positions)', () => {
  // ebase % 32 == 8 → 6 initial 4B entries; 40 lclusters → 32 in 2B packs, 2 in the 4B tail.
  const l = compactLayout(1000 * 32 + 8, 40, true);
  assert.deepEqual([l.initial4B, l.count2B, l.bytes], [6, 32, 24 + 64 + 8]);
  assert.deepEqual(compactEntryPosition(l, 5), { packOff: 1000 * 32 + 24, vcnt: 2, i: 1 });
  assert.deepEqual(compactEntryPosition(l, 6), { packOff: 1001 * 32, vcnt: 16, i: 0 });
  assert.deepEqual(compactEntryPosition(l, 39), { packOff: 1003 * 32, vcnt: 2, i: 1 });
  // Fewer lclusters than initial entries: all 4B; without 2B: all 4B.
  assert.deepEqual(compactLayout(8, 3, true), { ebase: 8, compacted2B: true, totalidx: 3, initial4B: 6, count2B: 0, bytes: 16 });
  assert.equal(compactLayout(8, 40, false).bytes, 160);
});

// ---- HEAD2: mkfs 1.9.3 segfaults on alternative algorithms via --compress-hints, so make it by hand ----

function fixChecksum(b: Buffer): void {
  if (!(b.readUInt32LE(1024 + 8) & FEATURE_COMPAT_SB_CHKSUM)) return;
  const bs = 1 << b[1024 + 0x0c];
  stampSuperBlockChecksum(b, bs);
}

/** A small -Elegacy-compress LZ4 image (FULL indexes, 1-block pclusters) and its source. */
function smallLegacyImage(t: TestContext, mkfs: string, extra: string[] = []): { img: string; src: string; dir: string } {
  const dir = tmpDir(t, 'small');
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const rnd = prng(7);
  fs.writeFileSync(path.join(src, 'a.txt'), makeText(rnd, 150_000));
  fs.writeFileSync(path.join(src, 'b.bin'), Buffer.concat([makeRandom(rnd, 9000), makeText(rnd, 30_000)]));
  fs.writeFileSync(path.join(src, 'c.txt'), makeText(rnd, 10_000));
  const img = path.join(dir, 'small.img');
  runOk(mkfs, ['--quiet', '-T0', '-Uclear', '-zlz4', '-Elegacy-compress', ...extra, img, src]);
  return { img, src, dir };
}

function fullIndexArea(imgPath: string, file: string): { start: number; n: number; header: number; bs: number; ino: InodeInfo } {
  const e = ErofsImage.open(imgPath);
  try {
    const ino = e.lookup(file);
    assert.equal(ino.datalayout, INODE_COMPRESSED_FULL);
    const end = ino.iloc + ino.isize + ino.xattrSize;
    return { start: fullIndexStart(end), n: Math.ceil(ino.size / e.blockSize), header: mapHeaderOffset(end), bs: e.blockSize, ino };
  } finally {
    e.close();
  }
}

function readFile(imgPath: string, file: string): Buffer {
  const e = ErofsImage.open(imgPath);
  try {
    return Buffer.concat([...e.data(e.lookup(file))]);
  } finally {
    e.close();
  }
}

test('HEAD2 lclusters take the algorithm of the high nibble (hand-made from a FULL LZ4 image)', (t) => {
  const mkfs = mkfs193(t);
  if (!mkfs) return;
  // -C16384: the image has BIG_PCLUSTER, so kernels read the map header of FULL inodes.
  const { img, src } = smallLegacyImage(t, mkfs, ['-C16384']);
  const f = fullIndexArea(img, '/a.txt');
  const b = fs.readFileSync(img);
  // HEAD2 pclusters are big only with BIG_PCLUSTER_2.
  b.writeUInt16LE(b.readUInt16LE(f.header + 4) | ADVISE_BIG_PCLUSTER_1 | ADVISE_BIG_PCLUSTER_2, f.header + 4);
  let heads = 0;
  for (let k = 0; k < f.n; k++) {
    const o = f.start + 8 * k;
    if ((b.readUInt16LE(o) & 3) === LCLUSTER_TYPE_HEAD1) {
      b.writeUInt16LE((b.readUInt16LE(o) & ~3) | LCLUSTER_TYPE_HEAD2, o);
      heads++;
    }
  }
  assert.ok(heads >= 3, `${heads} heads`);
  const head2 = path.join(path.dirname(img), 'head2.img');
  b[f.header + 6] = 0x00; // HEAD1 lz4, HEAD2 lz4
  fixChecksum(b);
  fs.writeFileSync(head2, b);
  assert.equal(sha(readFile(head2, '/a.txt')), sha(fs.readFileSync(path.join(src, 'a.txt'))));
  // HEAD2 = deflate, which the image does not declare: available_compr_algs is checked per extent.
  b[f.header + 6] = 0x20;
  fixChecksum(b);
  fs.writeFileSync(head2, b);
  assert.throws(() => readFile(head2, '/a.txt'), (e: unknown) => e instanceof CorruptImageError && /available_compr_algs/.test(e.message));
  // An unknown algorithm number is unsupported, not corrupt (the kernel says "please upgrade").
  b[f.header + 6] = 0x50;
  fixChecksum(b);
  fs.writeFileSync(head2, b);
  assert.throws(() => readFile(head2, '/a.txt'), (e: unknown) => e instanceof UnsupportedFeatureError && /nid \d+: unknown compression algorithm 5/.test(e.message));
});

// ---- corruption ---------------------------------------------------------------------------

/** Read every regular file; returns the first error, or null if all matched the source. Wrong bytes fail the test. */
function readAllCheck(imgPath: string, src: string): unknown {
  let e: ErofsImage;
  try {
    e = ErofsImage.open(imgPath);
  } catch (err) {
    return err;
  }
  try {
    e.walk((p, ino) => {
      if (ino.kind !== 'reg') return;
      const got = Buffer.concat([...e.data(ino)]);
      assert.equal(got.length, ino.size, `/${p}: length`);
      const want = fs.readFileSync(path.join(src, p.toString('latin1')));
      if (got.length === want.length) assert.equal(sha(got), sha(want), `/${p}: wrong bytes`);
    });
    return null;
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    return err;
  } finally {
    e.close();
  }
}

type Mutation = [name: string, mutate: (b: Buffer, f: ReturnType<typeof fullIndexArea>, x: { exts: ZExtent[] }) => void, rule: RegExp];

/** Index mutations of a FULL inode (a.txt: 150 kB of text, ~37 lclusters, 1-block LZ4 pclusters). */
const FULL_CASES: Mutation[] = [
  ['lcluster 0 is a NONHEAD', (b, f) => { b.writeUInt16LE(LCLUSTER_TYPE_NONHEAD, f.start); }, /NONHEAD lcluster without a head/],
  ['lcluster 0 starts mid-way', (b, f) => { b.writeUInt16LE(5, f.start + 2); }, /logical cluster 0 does not start an extent/],
  ['clusterofs beyond the lcluster', (b, f, x) => { b.writeUInt16LE(f.bs, f.start + 8 * Math.floor(x.exts[1].la / f.bs) + 2); }, /clusterofs beyond the lcluster/],
  ['delta[0] of 0 (a lookback loop)', (b, f) => { const k = nonheadAt(b, f); b.writeUInt16LE(0, f.start + 8 * k + 4); }, /bogus lookback distance/],
  ['delta[0] past the head', (b, f) => { const k = nonheadAt(b, f); b.writeUInt16LE(k + 1, f.start + 8 * k + 4); }, /bogus lookback distance/],
  ['delta[1] skipping the next head', (b, f) => { const k = nonheadAt(b, f); b.writeUInt16LE(500, f.start + 8 * k + 6); }, /delta\[1\] skips the next head/],
  ['CBLKCNT without big pclusters', (b, f) => { const k = nonheadAt(b, f); b.writeUInt16LE(LI_D0_CBLKCNT | 2, f.start + 8 * k + 4); }, /CBLKCNT in an inode without big pclusters/],
  ['blkaddr beyond the image', (b, f) => { b.writeUInt32LE(0x7ffffff, f.start + 4); }, /pcluster beyond the end of the image/],
  ['head beyond EOF', (b, f) => { b.writeUInt16LE(LCLUSTER_TYPE_PLAIN, f.start + 8 * (f.n - 1)); b.writeUInt16LE(f.bs - 1, f.start + 8 * (f.n - 1) + 2); }, /extent head beyond EOF|clusterofs/],
  ['PLAIN extent longer than its block', (b, f, x) => { const e = x.exts.find((y) => y.llen > f.bs)!; b.writeUInt16LE(LCLUSTER_TYPE_PLAIN, f.start + 8 * Math.floor(e.la / f.bs)); }, /uncompressed extent longer than its pcluster/],
  ['big pclusters without the sb feature', (b, f) => { b.writeUInt16LE(ADVISE_BIG_PCLUSTER_1, f.header + 4); }, /map header of a FULL inode is not zero|big pclusters without the superblock feature/],
  ['i_size far beyond the indexes', (b, f) => { b.writeUInt32LE(0x7fffffff, f.ino.iloc + 8); }, /lcluster indexes beyond the end of the image/],
  ['pcluster zeroed (no stream in its first block)', (b, f, x) => { const e = x.exts.find((y) => y.kind === 'compressed')!; b.fill(0, e.pa, e.pa + e.plen); }, /no compressed data in the first block/],
  ['stream cut short', (b, f, x) => { const e = x.exts.find((y) => y.kind === 'compressed')!; const s = firstNonZero(b, e.pa); b.fill(0, s, s + 7); }, /corrupt compressed data/],
  ['stream decodes to a different length', (b, f, x) => {
    // Point extent 1's head at extent 2's pcluster: a valid LZ4 block of another length.
    const k1 = Math.floor(x.exts[1].la / f.bs);
    b.writeUInt32LE(x.exts[2].pa / f.bs, f.start + 8 * k1 + 4);
  }, /corrupt compressed data/],
];

function nonheadAt(b: Buffer, f: ReturnType<typeof fullIndexArea>): number {
  for (let k = 2; k < f.n; k++) if ((b.readUInt16LE(f.start + 8 * k) & 3) === LCLUSTER_TYPE_NONHEAD) return k;
  throw new Error('no NONHEAD lcluster');
}

function firstNonZero(b: Buffer, off: number): number {
  while (b[off] === 0) off++;
  return off;
}

test('corrupted FULL indexes and pclusters fail with CorruptImageError naming the nid', (t) => {
  const mkfs = mkfs193(t);
  if (!mkfs) return;
  const { img, src, dir } = smallLegacyImage(t, mkfs);
  assert.equal(readAllCheck(img, src), null);
  const f = fullIndexArea(img, '/a.txt');
  const e0 = ErofsImage.open(img);
  const exts = [...compressedExtents(e0, e0.lookup('/a.txt'))];
  e0.close();
  assert.ok(exts.length > 10 && exts.some((e) => e.llen > f.bs));
  for (const [name, mutate, rule] of FULL_CASES) {
    const b = fs.readFileSync(img);
    mutate(b, f, { exts });
    fixChecksum(b);
    const bad = path.join(dir, 'bad.img');
    fs.writeFileSync(bad, b);
    const err = readAllCheck(bad, src);
    assert.ok(err instanceof CorruptImageError, `${name}: expected CorruptImageError, got ${err instanceof Error ? `${err.name}: ${err.message}` : err}`);
    assert.match(err.message, rule, name);
    assert.match(err.message, new RegExp(`nid ${f.ino.nid}\\b`), `${name}: names the nid`);
  }
});

test('corrupted COMPACT packs, big pclusters, inline tails and fragments fail with CorruptImageError', (t) => {
  const mkfs = mkfs193(t);
  if (!mkfs) return;
  const dir = tmpDir(t, 'compact');
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const rnd = prng(11);
  fs.writeFileSync(path.join(src, 'big.txt'), makeText(rnd, 400_000));
  fs.writeFileSync(path.join(src, 'tail.txt'), makeText(rnd, 70_123));
  fs.writeFileSync(path.join(src, 'small.txt'), makeText(rnd, 9000));
  fs.writeFileSync(path.join(src, 'tiny.txt'), makeText(rnd, 3000));
  const cases: [opts: string[], file: string, name: string, mutate: (b: Buffer, ino: InodeInfo, exts: ZExtent[], bs: number) => void, rule: RegExp][] = [
    [['-zlz4hc', '-C65536'], '/big.txt', 'CBLKCNT of zero blocks', (b, ino, exts, bs) => setCompactLo(b, ino, bs, Math.floor(exts[0].la / bs) + 1, LI_D0_CBLKCNT), /pcluster of zero blocks/],
    [['-zlz4hc', '-C65536'], '/big.txt', 'CBLKCNT above 1 MiB', (b, ino, exts, bs) => setCompactLo(b, ino, bs, Math.floor(exts[0].la / bs) + 1, LI_D0_CBLKCNT | 0x7ff), /pcluster larger than 1 MiB|larger than the config record/],
    [['-zlz4hc', '-C65536'], '/big.txt', 'CBLKCNT above max_pclusterblks', (b, ino, exts, bs) => setCompactLo(b, ino, bs, Math.floor(exts[0].la / bs) + 1, LI_D0_CBLKCNT | 17), /larger than the config record/],
    [['-zlz4hc', '-C65536'], '/big.txt', 'HEAD1 and HEAD2 big bits differ', (b, ino) => { const h = hdr(ino); b.writeUInt16LE(b.readUInt16LE(h + 4) & ~0x4, h + 4); }, /different HEAD1\/HEAD2 big-pcluster bits/],
    [['-zlz4hc', '-C65536'], '/big.txt', 'pack base beyond the image', (b, ino) => { b.writeUInt32LE(0x0fffffff, compactIndexStart(ino.iloc + ino.isize + ino.xattrSize) + 4); }, /pcluster beyond the end of the image/],
    [['-zlz4hc', '-C65536', '-Eztailpacking'], '/small.txt', 'inline pcluster crossing its block', (b, ino, exts) => { assert.ok(exts[exts.length - 1].inline); b.writeUInt16LE(4000, hdr(ino) + 2); }, /inline pcluster crosses a block boundary|beyond/],
    [['-zlz4hc', '-C65536', '-Eztailpacking'], '/small.txt', 'inline stream damaged', (b, ino, exts) => { const e = exts[exts.length - 1]; assert.ok(e.inline); b[e.pa] ^= 0xf0; b[e.pa + 1] ^= 0xff; }, /corrupt compressed data/],
    [['-zlz4', '-Eztailpacking'], '/big.txt', 'big pclusters without the superblock feature', (b, ino) => { const h = hdr(ino); b.writeUInt16LE(b.readUInt16LE(h + 4) | ADVISE_BIG_PCLUSTER_1 | ADVISE_BIG_PCLUSTER_2, h + 4); }, /big pclusters without the superblock feature/],
    [['-zlz4', '-Efragments'], '/tiny.txt', 'whole-file fragment with a forged i_size', (b, ino) => {
      assert.equal(decodeMapHeader(b, hdr(ino)).kind, 'fragment-inode');
      b.writeUInt32LE(0x7fffffff, ino.iloc + 8);
    }, /fragment beyond the end of the packed inode/],
    [['-zlz4', '-Efragments'], '/tail.txt', 'fragment beyond the packed inode', (b, ino, exts) => { assert.equal(exts[exts.length - 1].kind, 'fragment'); b.writeUInt32LE(0x7fffff00, hdr(ino)); }, /fragment beyond the end of the packed inode/],
    [['-zdeflate', '-C16384'], '/big.txt', 'DEFLATE stream damaged', (b, ino, exts) => { const e = exts[1]; const s = firstNonZero(b, e.pa); b[s + 40] ^= 0x55; b[s + 41] ^= 0xaa; }, /corrupt compressed data/],
  ];
  const built = new Map<string, string>();
  for (const [opts, file, name, mutate, rule] of cases) {
    const key = opts.join(' ');
    let img = built.get(key);
    if (!img) {
      img = path.join(dir, `c${built.size}.img`);
      runOk(mkfs, ['--quiet', '-T0', '-Uclear', ...opts, img, src]);
      assert.equal(readAllCheck(img, src), null, key);
      built.set(key, img);
    }
    const e = ErofsImage.open(img);
    const ino = e.lookup(file);
    const exts = [...compressedExtents(e, ino)];
    const bs = e.blockSize;
    e.close();
    const b = fs.readFileSync(img);
    mutate(b, ino, exts, bs);
    fixChecksum(b);
    const bad = path.join(dir, 'bad.img');
    fs.writeFileSync(bad, b);
    const err = readAllCheck(bad, src);
    assert.ok(err instanceof CorruptImageError, `${key} ${name}: expected CorruptImageError, got ${err instanceof Error ? `${err.name}: ${err.message}` : err}`);
    assert.match(err.message, rule, `${key} ${name}`);
  }
});

const hdr = (ino: InodeInfo): number => mapHeaderOffset(ino.iloc + ino.isize + ino.xattrSize);

/** Overwrite the `lo` bits of lcluster `lcn`'s compact entry (type kept). */
function setCompactLo(b: Buffer, ino: InodeInfo, bs: number, lcn: number, lo: number): void {
  const h = decodeMapHeader(b, hdr(ino));
  assert.equal(h.kind, 'indexes');
  if (h.kind !== 'indexes') return;
  const l = compactLayout(compactIndexStart(ino.iloc + ino.isize + ino.xattrSize), Math.ceil(ino.size / bs), (h.advise & ADVISE_COMPACTED_2B) !== 0);
  const { packOff, vcnt, i } = compactEntryPosition(l, lcn);
  const encodebits = vcnt === 2 ? 16 : 14;
  const bit = packOff * 8 + encodebits * i;
  const lobits = 12;
  let word = b[bit >> 3] | (b[(bit >> 3) + 1] << 8) | (b[(bit >> 3) + 2] << 16);
  const sh = bit & 7;
  word = (word & ~(((1 << lobits) - 1) << sh)) | (lo << sh);
  b[bit >> 3] = word & 0xff;
  b[(bit >> 3) + 1] = (word >> 8) & 0xff;
  b[(bit >> 3) + 2] = (word >> 16) & 0xff;
}

test('random damage to index areas and pclusters: only typed errors, never a hang or wrong lengths', (t) => {
  const mkfs = mkfs193(t);
  if (!mkfs) return;
  const dir = tmpDir(t, 'fuzz');
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const rnd = prng(99);
  fs.writeFileSync(path.join(src, 'a.txt'), makeText(rnd, 120_000));
  fs.writeFileSync(path.join(src, 'b.bin'), Buffer.concat([makeRandom(rnd, 6000), makeText(rnd, 40_000), Buffer.alloc(30_000)]));
  fs.writeFileSync(path.join(src, 'a.dup'), fs.readFileSync(path.join(src, 'a.txt')).subarray(0, 90_000));
  let outcomes = { ok: 0, corrupt: 0, unsupported: 0 };
  const started = Date.now();
  for (const [k, opts] of [['-zlz4hc', '-C16384', '-Eztailpacking'], ['-zlz4', '-Efragments,dedupe'], ['-zdeflate', '-C65536'], ['-zlz4', '-Elegacy-compress']].entries()) {
    const img = path.join(dir, `f${k}.img`);
    runOk(mkfs, ['--quiet', '-T0', '-Uclear', ...opts, img, src]);
    // Targets: map headers + index areas of compressed inodes, and their pclusters.
    const e = ErofsImage.open(img);
    const regions: [number, number][] = [];
    e.walk((p, ino) => {
      if (!isCompressed(ino)) return;
      const h = hdr(ino);
      regions.push([h, Math.min(e.length, h + 8 + 16 + 8 * Math.ceil(ino.size / e.blockSize))]);
      for (const x of compressedExtents(e, ino)) if (x.plen) regions.push([x.pa, x.pa + Math.min(x.plen, 64)]);
    });
    const packed = e.sb.packedNid;
    if (packed !== 0n) {
      const pi = e.inode(Number(packed));
      regions.push([hdr(pi), hdr(pi) + 64]);
    }
    e.close();
    const base = fs.readFileSync(img);
    const r = prng(1000 + k);
    for (let trial = 0; trial < 60; trial++) {
      const b = Buffer.from(base);
      const flips = 1 + Math.floor(r() * 3);
      for (let f = 0; f < flips; f++) {
        const [lo, hi] = regions[Math.floor(r() * regions.length)];
        const at = lo + Math.floor(r() * (hi - lo));
        b[at] ^= 1 << Math.floor(r() * 8);
      }
      fixChecksum(b);
      const bad = path.join(dir, 'bad.img');
      fs.writeFileSync(bad, b);
      const err = readEverything(bad);
      if (err === null) outcomes.ok++;
      else if (err instanceof CorruptImageError) outcomes.corrupt++;
      else if (err instanceof UnsupportedFeatureError) outcomes.unsupported++;
      else assert.fail(`${opts.join(' ')} trial ${trial}: ${err instanceof Error ? `${err.name}: ${err.stack}` : String(err)}`);
    }
  }
  assert.ok(outcomes.corrupt > 50, JSON.stringify(outcomes));
  // A hang guard, not a timing target (those live in the bench): 240 reads of small images take ~1 s;
  // the bound is wide enough for any loaded CI machine and still catches a reader that loops.
  assert.ok(Date.now() - started < 300_000, 'reading the damaged images took over 5 minutes: a reader loop?');
  t.diagnostic(JSON.stringify(outcomes));
});

/** Read all file data; any flipped literal may give other bytes, but never another length. */
function readEverything(imgPath: string): unknown {
  let e: ErofsImage;
  try {
    e = ErofsImage.open(imgPath);
  } catch (err) {
    return err;
  }
  try {
    e.walk((_p, ino) => {
      if (ino.kind !== 'reg') return;
      let n = 0;
      for (const c of e.data(ino)) n += c.length;
      if (n !== ino.size) throw new Error(`read ${n} bytes of ${ino.size}`);
    });
    return null;
  } catch (err) {
    return err;
  } finally {
    e.close();
  }
}

