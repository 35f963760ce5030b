// The matrix's source tree: built once, reused by every case. Each file is there to stand on a
// boundary some option moves: sizes around every block size and pcluster size, zero runs followed by
// an incompressible tail of every size class (issue 15 finding 1: 1 MiB of zeros + 3,000 random
// bytes), incompressible and repetitive data, whole and partial duplicates (dedupe), hard links,
// 2 KiB xattrs (shared or not by -x), a 3,000-entry directory, long symlinks, ns mtimes and wide ids
// (extended inodes unless --ignore-mtime), device nodes and a FIFO.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pseudoRandom } from '../helpers/tricky-tree.js';
import { run } from '../helpers/tools.js';

function text(n: number, seed: number): Buffer {
  const words = 'erofs page cache share fingerprint image kernel block inode extent cluster lz4 deflate zeros the a of'.split(' ');
  let x = seed >>> 0;
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const w = words[x % words.length] + (x % 7 === 0 ? '\n' : ' ');
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

/** Tail sizes after a zero run: below, at and above every block size, and the finding's 3,000. */
export const TAIL_SIZES = [1, 100, 511, 513, 1023, 1025, 2047, 2049, 3000, 4095, 4097, 9000];

/** Names of files whose xattrs the -x cases share (the same name and value on several inodes). */
export const XATTR_BIG = 2048;

/** mtime of every entry: seconds + a nanosecond part (a whole-second time would hide ns loss). */
function mtimeOf(i: number): number {
  return 1_700_000_000 + i * 3607 + 0.123456 + (i % 10) / 1000;
}

/**
 * Write the tree under `root` (which must not exist). Returns the number of entries. Needs root
 * (ownership, trusted.* xattrs, mknod).
 */
export function writeMatrixTree(root: string): number {
  let n = 0;
  const entries: string[] = [];
  const file = (rel: string, data: Buffer | string, mode = 0o644): string => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
    fs.chmodSync(p, mode);
    entries.push(p);
    n++;
    return p;
  };
  fs.mkdirSync(root);

  // Sizes 0, 1, bs-1, bs, bs+1 for every block size, and pcluster ± 1 for every -C: text (compressible)
  // and random (stored raw by the compressors) versions.
  file('sizes/empty', '');
  file('sizes/one', 'x');
  const sizes = new Set<number>();
  for (const bs of [512, 1024, 2048, 4096, 16384, 65536]) for (const d of [-1, 0, 1]) sizes.add(bs + d);
  // Tails that fit a block only without their inode (the finding of extended-inode-tail-run-on.test.ts: an extended
  // inode, 64 bytes, runs on from the end of a metadata block and the tail fills the next one).
  for (const bs of [512, 1024, 2048, 4096]) for (const d of [63, 48, 32]) sizes.add(bs - d);
  sizes.add((1 << 20) - 1);
  sizes.add((1 << 20) + 1);
  for (const s of sizes) {
    file(`sizes/text-${s}`, text(s, s));
    if (s < 1 << 20) file(`sizes/random-${s}`, pseudoRandom(`matrix random ${s}`, s));
  }
  // Zero runs then a short incompressible tail of every size class (the tail's pcluster is what
  // ztailpacking inlines; 1 MiB runs make long index arrays: FULL ones at 8 bytes per lcluster).
  // Every tail after 40 KB and 256 KiB runs; the finding's 1 MiB run with a tail in each size class.
  for (const t of TAIL_SIZES) {
    file(`zero-tail/40k-${t}`, Buffer.concat([Buffer.alloc(40_000), pseudoRandom(`matrix tail40 ${t}`, t)]));
    file(`zero-tail/256k-${t}`, Buffer.concat([Buffer.alloc(256 << 10), pseudoRandom(`matrix tail256 ${t}`, t)]));
  }
  for (const t of [1, 511, 1025, 3000, 4097]) {
    file(`zero-tail/1m-${t}`, Buffer.concat([Buffer.alloc(1 << 20), pseudoRandom(`matrix tail ${t}`, t)]));
  }
  file('data/incompressible-300k', pseudoRandom('matrix incompressible', 300_000));
  file('data/repetitive-1m', Buffer.alloc(1 << 20, 'abcabcab'));
  file('data/mixed', Buffer.concat([text(70_000, 2), pseudoRandom('matrix mixed', 50_000), Buffer.alloc(90_000), text(33_333, 3)]));
  // Duplicates (dedupe): a whole copy, and partial ones sharing a head or a block-aligned middle.
  const base = Buffer.concat([text(200_000, 7), pseudoRandom('matrix base', 100_000)]);
  file('dup/base', base);
  file('dup/copy', base);
  file('dup/same-head', Buffer.concat([base.subarray(0, 131_072), text(50_000, 8)]));
  file('dup/shifted', Buffer.concat([pseudoRandom('matrix shift', 4096), base.subarray(0, 150_000)]));
  file('dup/copy-of-zeros', Buffer.alloc(1 << 20));
  // Hard links: three names, one inode (and a hard-linked empty file).
  const h = file('links/a', text(10_000, 9));
  for (const l of ['links/b', 'links/c']) fs.linkSync(h, path.join(root, l));
  const he = file('links/empty-a', '');
  fs.linkSync(he, path.join(root, 'links/empty-b'));
  // Modes and owners: setuid/setgid/sticky bits, wide ids (extended inodes).
  file('modes/setuid', 'suid', 0o4755);
  file('modes/setgid', 'sgid', 0o2711);
  file('modes/none', 'none', 0o000);
  const wide = file('modes/wide-ids', 'wide');
  fs.chownSync(wide, 70_000, 65_536);
  fs.chownSync(file('modes/owned', 'owned'), 1000, 100);
  fs.mkdirSync(path.join(root, 'modes/sticky'));
  fs.chmodSync(path.join(root, 'modes/sticky'), 0o1777);
  // xattrs: a 2 KiB value on one inode; the same big name/value on three (shared with -x 1 and 2),
  // another on two (shared with -x 1 only); trusted.* too; on a directory and a symlink.
  const xs: [string, string, Buffer][] = [];
  const big = (s: string) => pseudoRandom(`matrix xattr ${s}`, XATTR_BIG).toString('hex').slice(0, XATTR_BIG);
  xs.push([file('xattr/big-alone', text(3000, 11)), 'user.big', Buffer.from(big('alone'))]);
  for (const k of ['s1', 's2', 's3']) {
    const p = file(`xattr/shared3-${k}`, text(600, 12));
    xs.push([p, 'user.shared3', Buffer.from(big('shared3'))]);
    xs.push([p, 'trusted.small', Buffer.from('t')]);
  }
  for (const k of ['p1', 'p2']) xs.push([file(`xattr/shared2-${k}`, pseudoRandom(`x ${k}`, 5000)), 'user.shared2', Buffer.from('two of us')]);
  xs.push([path.join(root, 'xattr'), 'user.dir', Buffer.from('on a directory')]);
  // 3,000 entries in one directory (a multi-block directory at every block size), tiny contents.
  const many = path.join(root, 'many');
  fs.mkdirSync(many);
  for (let i = 0; i < 3000; i++) {
    const p = path.join(many, `entry-${String(i).padStart(4, '0')}-${'n'.repeat(i % 40)}`);
    fs.writeFileSync(p, i % 3 === 0 ? '' : text(i % 64, i)); // tiny: the entry count is the point here
    entries.push(p);
    n++;
  }
  // Symlinks: short, long (block-sized and beyond at small blocks), the longest (4095 bytes).
  fs.mkdirSync(path.join(root, 'symlinks'));
  for (const len of [1, 100, 511, 512, 1024, 2048, 4095]) {
    const p = path.join(root, 'symlinks', `len-${len}`);
    fs.symlinkSync('t'.repeat(len), p);
    entries.push(p);
    n++;
  }
  const sl = path.join(root, 'symlinks', 'owned');
  fs.symlinkSync('../links/a', sl);
  fs.lchownSync(sl, 1234, 5678);
  entries.push(sl);
  n++;
  xs.push([sl, 'trusted.onlink', Buffer.from('on a symlink')]);
  // Device nodes and a FIFO.
  fs.mkdirSync(path.join(root, 'special'));
  for (const [name, args] of [['chr', ['c', '1', '3']], ['blk', ['b', '7', '200']], ['fifo', ['p']]] as const) {
    const p = path.join(root, 'special', name);
    const r = run('mknod', [p, ...args]);
    if (r.status !== 0) throw new Error(`mknod ${p}: ${r.stderr}`);
    entries.push(p);
    n++;
  }
  for (const [p, name, value] of xs) {
    const r = run('setfattr', ['-h', '-n', name, '-v', '0x' + value.toString('hex'), p]);
    if (r.status !== 0) throw new Error(`setfattr ${name} on ${p}: ${r.stderr}`);
  }
  // Times last (children change their directory's mtime), deepest first, symlinks without following.
  const dirs: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    dirs.push(d);
  };
  walk(root);
  let i = 0;
  for (const p of entries) {
    const t = mtimeOf(i++);
    fs.lutimesSync(p, t, t);
  }
  for (const d of dirs) {
    const t = mtimeOf(i++);
    fs.utimesSync(d, t, t);
  }
  return n + dirs.length;
}
