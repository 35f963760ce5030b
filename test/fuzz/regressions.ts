// Regression fixtures for bugs the fuzzer found: each is a tiny valid image (a three-file tree at -b 512)
// with the one edit that reproduces the bug, found through our reader, never at a hard-coded offset.
// `node dist/test/fuzz/make-regressions.js` writes them to fixtures/regressions/; test/fuzz-regressions.test.ts
// runs the CLI on them and pins the clean outcome. Each entry says what the fuzzer saw before the fix.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../../src/cli/main.js';
import { ErofsImage, type InodeInfo } from '../../src/read/image.js';
import { fixChecksum } from './mutate.js';

export interface Regression {
  name: string;
  /** What went wrong before the fix. */
  bug: string;
  /** Build flags for the tiny tree (always -b 512 -T0 -Uclear). */
  flags: string[];
  /** The edit on `b` (the image bytes), locating what to change with `img` (the reader on the unedited image). */
  edit: (b: Buffer, img: ErofsImage) => void;
  /** CLI invocations and what they must give: exit status and a pattern for the one stderr line (or stdout). */
  expect: { args: (image: string, scratch: string) => string[]; status: number; stderr?: RegExp; stdout?: RegExp }[];
}

function inodeOf(img: ErofsImage, p: string): InodeInfo {
  return img.lookup(p);
}

export const REGRESSIONS: Regression[] = [
  {
    name: 'ls-mtime-beyond-date-range',
    bug: 'ls -l: RangeError "Invalid time value" from Date#toISOString on a 64-bit i_mtime (exit 70, stack trace)',
    flags: ['--mkfs-time'],
    edit: (b, img) => {
      const ino = inodeOf(img, '/file');
      if (!ino.extended) throw new Error('expected an extended inode');
      b.writeBigInt64LE(1n << 62n, ino.iloc + 32);
    },
    expect: [
      { args: (i) => ['ls', '-l', i], status: 0, stdout: /@4611686018427387904 file/ },
      { args: (i) => ['verify', i], status: 0 },
    ],
  },
  {
    name: 'symlink-target-with-nul',
    bug: 'extract: TypeError ERR_INVALID_ARG_VALUE from fs.symlinkSync on a target with a NUL byte (exit 70, stack trace)',
    flags: [],
    edit: (b, img) => {
      const ino = inodeOf(img, '/link');
      b[ino.iloc + ino.isize + ino.xattrSize + 2] = 0;
    },
    expect: [
      { args: (i, d) => ['extract', '--quiet', i, path.join(d, 'x')], status: 1, stderr: /nid \d+: symlink target contains a NUL byte/ },
      { args: (i) => ['verify', i], status: 1 },
    ],
  },
  {
    name: 'xattr-value-size-beyond-body',
    bug: 'verify: exit 0 (OK) on an image whose inline xattr entry runs past the xattr body; the reader and a mount reject it',
    flags: [],
    edit: (b, img) => {
      const ino = inodeOf(img, '/file');
      // First inline entry after the 12-byte ibody header (no shared ids in this tree): e_value_size.
      b.writeUInt16LE(0x7000, ino.iloc + ino.isize + 12 + 2);
    },
    expect: [
      { args: (i) => ['verify', i], status: 1 },
      { args: (i, d) => ['extract', '--quiet', i, path.join(d, 'x')], status: 1, stderr: /nid \d+: xattr entry out of bounds/ },
    ],
  },
  {
    name: 'xattr-shared-id-beyond-image',
    bug: 'verify: exit 0 (OK) on an image whose shared xattr id points past the end of the image',
    flags: ['-x', '0'],
    edit: (b, img) => {
      const ino = inodeOf(img, '/file');
      if (b[ino.iloc + ino.isize + 4] < 1) throw new Error('expected a shared xattr');
      b.writeUInt32LE(0x80000, ino.iloc + ino.isize + 12);
    },
    expect: [
      { args: (i) => ['verify', i], status: 1 },
      { args: (i) => ['ls', '-l', i], status: 0 },
    ],
  },
];

/** The tiny tree: a file with an xattr, a symlink, a directory. */
export function makeTinyTree(root: string): void {
  fs.mkdirSync(path.join(root, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(root, 'file'), 'regression\n');
  fs.writeFileSync(path.join(root, 'dir', 'other'), 'other\n');
  fs.symlinkSync('target-name', path.join(root, 'link'));
  const t = new Date(1_700_000_000_000);
  for (const p of ['file', 'dir/other', 'dir', '.']) fs.utimesSync(path.join(root, p), t, t);
}

async function quietMain(args: string[]): Promise<number> {
  const err = process.stderr.write;
  let text = '';
  process.stderr.write = ((s: string | Uint8Array) => { text += String(s); return true; }) as typeof process.stderr.write;
  try {
    const code = await main(args);
    if (code !== 0) throw new Error(`${args.join(' ')}: exit ${code}: ${text}`);
    return code;
  } finally {
    process.stderr.write = err;
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
  }
}

/** Build one regression image into `out` (scratch space under `work`). */
export async function makeRegression(r: Regression, work: string, out: string): Promise<void> {
  const tree = path.join(work, `${r.name}.tree`);
  fs.rmSync(tree, { recursive: true, force: true });
  fs.mkdirSync(tree, { recursive: true });
  makeTinyTree(tree);
  const { spawnSync } = await import('node:child_process');
  // Node has no setxattr: one setfattr call.
  const s = spawnSync('setfattr', ['-n', 'user.a', '-v', '1', path.join(tree, 'file')]);
  if (s.status !== 0) throw new Error(`setfattr failed: ${s.stderr}`);
  const base = path.join(work, `${r.name}.base.img`);
  await quietMain(['build', '--quiet', '-b', '512', '-T0', '-Uclear', '--workers', '1', ...r.flags, base, tree]);
  const b = fs.readFileSync(base);
  const img = ErofsImage.open(base);
  try {
    r.edit(b, img);
  } finally {
    img.close();
  }
  fixChecksum(b);
  fs.writeFileSync(out, b);
}
