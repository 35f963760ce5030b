// Seed images for the fuzzer: one small generated tree built in every layout erofs-forge writes, plus
// the mkfs.erofs 1.9.3 reference images. Every seed is valid; the fuzzer mutates copies of them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { main } from '../../src/cli/main.js';
import { nodeHasZstd } from '../../src/compress/zstd.js';

export interface Seed {
  /** Layout name, e.g. "lz4hc-64k" or "ref-deflate". */
  name: string;
  file: string;
  /** How it was made (flags for ours, the reference image's file name otherwise). */
  how: string;
}

/** Our layouts: name -> `erofs-forge build` flags. */
export const LAYOUTS: Record<string, string[]> = {
  'plain-4k': ['-b', '4096'],
  'plain-512': ['-b', '512'],
  'noinline-1k': ['-b', '1024', '-E', 'noinline_data'],
  'lz4': ['-z', 'lz4'],
  'lz4hc-64k': ['-z', 'lz4hc', '-C', '65536'],
  'deflate': ['-z', 'deflate'],
  'lz4-ztailpacking': ['-z', 'lz4', '-E', 'ztailpacking'],
  'deflate-512-ztailpacking': ['-b', '512', '-z', 'deflate', '-C', '4096', '-E', 'ztailpacking'],
  'lz4-dedupe-legacy': ['-z', 'lz4', '-E', 'dedupe,legacy-compress'],
  'lzma-16k-ztailpacking': ['-z', 'lzma', '-C', '16384', '-E', 'ztailpacking'],
  // The packed inode: tails and small files at h_fragmentoff, whole-file fragments, shared pclusters.
  'lz4hc-16k-fragments-dedupe': ['-z', 'lz4hc', '-C', '16384', '-E', 'fragments,dedupe'],
  // zstd encoding needs Node >= 22.15 (node:zlib); CI runs Node 22/24/26.
  ...(nodeHasZstd() ? { 'zstd-64k-dedupe': ['-z', 'zstd', '-C', '65536', '-E', 'dedupe'] } : {}),
  'digest': ['--xattr-inode-digest'],
  'digest-blake3-lz4': ['-z', 'lz4hc', '--xattr-inode-digest=trusted.erofs.fingerprint', '--fingerprint', 'blake3'],
  'xattrs': ['-x', '1', '--xattr-prefix', 'user.ven', '--xattr-prefix', 'trusted.overlay.', '-b', '2048'],
};

export const REFERENCE_DIR = '/work/shared/reference-images';

/** Where a symlink in the seed tree points outside the tree; extract must never create anything there. */
export const ESCAPE_ABS = '/tmp/erofs-forge-fuzz-escape';

/** Deterministic bytes (xorshift32), so every run builds the same seeds. */
function prng(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

function text(n: number): Buffer {
  const words = ['erofs', 'forge', 'pcluster', 'lcluster', 'inode', 'dirent', 'xattr', 'block', 'extent', 'kernel'];
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const w = `${words[(i * 7) % words.length]}${i % 13 === 0 ? '\n' : ' '}`;
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('').slice(0, n));
}

function setXattrs(list: [string, string, Buffer][]): void {
  // One python3 process sets every xattr (no follow), values as hex.
  const script = 'import os,sys\nfor l in sys.stdin.read().split("\\n"):\n  if not l: continue\n  p,n,v=l.split(" ")\n  os.setxattr(bytes.fromhex(p),n,bytes.fromhex(v),follow_symlinks=False)\n';
  const input = list.map(([p, n, v]) => `${Buffer.from(p).toString('hex')} ${n} ${v.toString('hex')}`).join('\n');
  const r = spawnSync('python3', ['-c', script], { input });
  if (r.status !== 0) throw new Error(`setting xattrs failed: ${r.stderr}`);
}

/** The seed tree: every inode kind, odd sizes, a hard link, escaping symlinks, shared and long-prefix xattrs. */
export function makeSeedTree(root: string): void {
  const w = (rel: string, data: Buffer | string) => fs.writeFileSync(path.join(root, rel), data);
  fs.mkdirSync(path.join(root, 'sub', 'deeper', 'a', 'b'), { recursive: true });
  fs.mkdirSync(path.join(root, 'xattrs-dir'));
  fs.mkdirSync(path.join(root, 'empty-dir'));
  w('hello.txt', 'hello\n');
  w('same-as-hello.txt', 'hello\n');
  w('text-40k.txt', text(40_000));
  w('random-9k.bin', prng(9000, 7));
  w('zeros-10k.bin', Buffer.alloc(10_000));
  w('mixed-4097.bin', Buffer.concat([text(2000), prng(2097, 3)]));
  w('repeat-70k.bin', Buffer.concat([prng(1000, 11), text(69_000)]));
  w('empty', '');
  w('n'.repeat(251) + '.txt', 'a name of 255 bytes\n');
  w('sub/deeper/a/b/leaf.txt', text(300));
  for (let i = 0; i < 30; i++) w(`sub/f${String(i).padStart(2, '0')}`, text(i * 37));
  w('xattrs-dir/ven-file', 'long prefix\n');
  fs.linkSync(path.join(root, 'hello.txt'), path.join(root, 'sub', 'hello-hardlink'));
  fs.symlinkSync('hello.txt', path.join(root, 'link-short'));
  fs.symlinkSync('../../escape', path.join(root, 'link-escape'));
  fs.symlinkSync(ESCAPE_ABS, path.join(root, 'link-abs'));
  fs.symlinkSync('x'.repeat(600), path.join(root, 'link-long'));
  const r = spawnSync('mkfifo', [path.join(root, 'fifo')]);
  if (r.status !== 0) throw new Error('mkfifo failed');
  if (process.getuid?.() === 0) {
    spawnSync('mknod', [path.join(root, 'chr'), 'c', '1', '3']);
    spawnSync('mknod', [path.join(root, 'blk'), 'b', '259', '70000']);
  }
  const xs: [string, string, Buffer][] = [];
  for (const f of ['hello.txt', 'same-as-hello.txt', 'text-40k.txt', 'random-9k.bin', 'sub/f03']) xs.push([path.join(root, f), 'user.shared', Buffer.from('yes')]);
  xs.push([path.join(root, 'hello.txt'), 'user.vendor', Buffer.from('acme')]);
  xs.push([path.join(root, 'xattrs-dir/ven-file'), 'user.vendor.id', Buffer.from('42')]);
  xs.push([path.join(root, 'xattrs-dir/ven-file'), 'user.big', prng(300, 5)]);
  xs.push([path.join(root, 'xattrs-dir'), 'user.venue', Buffer.from('dir')]);
  xs.push([path.join(root, 'link-short'), 'trusted.overlay.opaque', Buffer.from('y')]);
  if (process.getuid?.() === 0) {
    xs.push([path.join(root, 'xattrs-dir'), 'trusted.overlay.opaque', Buffer.from('y')]);
    xs.push([path.join(root, 'mixed-4097.bin'), 'security.selinux', Buffer.from('system_u:object_r:etc_t:s0\0')]);
  }
  setXattrs(xs.filter(([p, n]) => process.getuid?.() === 0 || !n.startsWith('trusted.')));
  // Fixed times so every run builds byte-identical seeds (-T0 --all-time sets inodes anyway).
  const t = new Date(1_700_000_000_000);
  for (const rel of ['hello.txt', 'sub', 'xattrs-dir', '.']) fs.utimesSync(path.join(root, rel), t, t);
}

/** Build every seed into `dir` (created); reference images are used where they are. */
export async function buildSeeds(dir: string, only?: (name: string) => boolean): Promise<Seed[]> {
  fs.mkdirSync(dir, { recursive: true });
  const tree = path.join(dir, 'tree');
  fs.rmSync(tree, { recursive: true, force: true });
  fs.mkdirSync(tree);
  makeSeedTree(tree);
  const seeds: Seed[] = [];
  for (const [name, flags] of Object.entries(LAYOUTS)) {
    if (only && !only(name)) continue;
    const file = path.join(dir, `${name}.img`);
    const args = ['build', '--quiet', '-T0', '-Uclear', '--workers', '1', ...flags, file, tree];
    let err = '';
    const origErr = process.stderr.write;
    process.stderr.write = ((s: string | Uint8Array) => { err += String(s); return true; }) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(args);
    } finally {
      process.stderr.write = origErr;
      process.removeAllListeners('SIGINT');
      process.removeAllListeners('SIGTERM');
    }
    if (code !== 0) throw new Error(`seed ${name}: build failed (${code}): ${err}`);
    seeds.push({ name, file, how: `erofs-forge ${args.slice(0, -2).join(' ')}` });
  }
  if (fs.existsSync(REFERENCE_DIR)) {
    for (const f of fs.readdirSync(REFERENCE_DIR).filter((n) => n.endsWith('.img')).sort()) {
      const name = `ref-${f.replace(/\.img$/, '')}`;
      if (only && !only(name)) continue;
      seeds.push({ name, file: path.join(REFERENCE_DIR, f), how: `mkfs.erofs 1.9.3 (${f})` });
    }
  }
  return seeds;
}
