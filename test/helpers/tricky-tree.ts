// A hostile source tree for end-to-end tests (issue 3, "Tests that must exist"): every name byte, odd
// sizes around each block size, hard links, long/dangling/looping symlinks, devices with big numbers,
// FIFO, socket, special mode bits, big uid/gid, xattrs of every namespace, ACLs, extreme mtimes.
//
// The tree is first described as data (a spec), then created; `reverse` only changes the order in which
// each directory's entries are created (tmpfs lists a directory newest-first, so readdir order differs)
// while every attribute ends up identical. Needs root (mknod, chown, trusted.* xattrs).
//
// Node cannot create device nodes, set xattrs, or set times with nanosecond precision (fs.utimes takes
// a double), and child-process arguments must be strings (not raw bytes). So special files are made by
// python3 (same syscalls as mknod/mkfifo, paths passed as hex), and all xattrs and times are applied by
// ONE python3 process at the end (os.setxattr / os.utime(ns=...), follow_symlinks=False). ACLs go through
// setfacl so that their on-disk encoding comes from an independent tool.
import { createCipheriv, createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  ftruncateSync,
  lchownSync,
  linkSync,
  mkdirSync,
  openSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { resolve } from 'node:path';
import { runOk } from './tools.js';

export interface TrickyTreeOptions {
  /** Create each directory's entries in reverse order (same final tree). */
  reverse?: boolean;
  /** Block sizes around which file sizes and symlink lengths are chosen (default 512..4096). */
  blockSizes?: number[];
  /** Add a 5 GiB sparse file (slow to build and hash; default off). */
  big?: boolean;
}

/** What a test needs to know about the tree. All paths are relative to root, as bytes. */
export interface TrickyTree {
  root: string;
  /** Number of entries including the root. */
  entryCount: number;
  /** The 2 KiB xattr value lives here alone: EROFS keeps inline xattrs beside the inode, so a
   *  builder may refuse it at small block sizes. Exclude this path for those. */
  bigXattrFile: Buffer;
  bigXattr: { name: string; size: number };
  /** One (name, value) pair carried by 20 files: a candidate for the shared xattr area. */
  sharedXattr: { name: string; value: Buffer; files: Buffer[] };
  /** Three names of one regular file, in different directories. */
  hardLinks: Buffer[];
  /** Two names of one symlink inode. */
  hardLinkedSymlink: Buffer[];
  fifo: Buffer;
  socket: Buffer;
  /** Directory holding only an overlayfs whiteout (char 0:0). mkfs.erofs (>= 1.8, without
   *  --ovlfs-strip) adds an empty `trusted.overlay.origin` xattr to such a directory. */
  whiteoutDir: Buffer;
  devices: { path: Buffer; type: 'chr' | 'blk'; major: number; minor: number }[];
  symlinks: { short: Buffer; long4095: Buffer; dangling: Buffer; loop: [Buffer, Buffer]; absolute: Buffer };
  /** Regular files sized around block sizes: bs -> [size, path]. */
  sizedFiles: { bs: number; size: number; path: Buffer }[];
  bigFile: Buffer;
  /** Present only with opts.big. */
  sparseFile?: Buffer;
  bigDir: Buffer;
  deepest: Buffer;
  emptyDir: Buffer;
  aclFile: Buffer;
  defaultAclDir: Buffer;
  times: { ns: Buffer; pre1970: Buffer; post2106: Buffer };
}

// ---- spec ----------------------------------------------------------------------------------

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  xattrs: [string, Buffer][];
  /** setfacl argument lists, e.g. ['-m', 'u:1234:rwx']. */
  acl: string[][];
}

type Node =
  | { kind: 'dir'; name: Buffer; meta: Meta; children: Node[] }
  | { kind: 'file'; name: Buffer; meta: Meta; content: () => Buffer }
  | { kind: 'sparse'; name: Buffer; meta: Meta; size: number; ranges: [number, Buffer][] }
  | { kind: 'symlink'; name: Buffer; meta: Meta; target: Buffer }
  | { kind: 'chr' | 'blk'; name: Buffer; meta: Meta; major: number; minor: number }
  | { kind: 'fifo' | 'socket'; name: Buffer; meta: Meta }
  /** Another name of a hard-link group; the first name created makes the inode. */
  | { kind: 'link'; name: Buffer; group: string };

type Real = Exclude<Node, { kind: 'link' }>;

const B = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));
const cat = (...p: Buffer[]): Buffer => Buffer.concat(p.flatMap((x, i) => (i ? [B('/'), x] : [x])));

/** Deterministic pseudo-random bytes: AES-128-CTR keystream, key from a fixed seed, IV from `id`. */
export function pseudoRandom(id: string, size: number): Buffer {
  const key = createHash('sha256').update('erofs-forge tricky tree v1').digest().subarray(0, 16);
  const iv = createHash('sha256').update(id).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(size));
}

const NS = 1_000_000_000n;

class SpecBuilder {
  private n = 0;
  /** Every entry gets its own explicit mtime (never the build time, which would lose nanoseconds). */
  meta(over: Partial<Meta> = {}, dir = false): Meta {
    const i = BigInt(this.n++);
    return {
      mode: dir ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      mtimeNs: (1_500_000_000n + i * 3600n) * NS + ((i * 7919n + 1n) % NS),
      xattrs: [],
      acl: [],
      ...over,
    };
  }
  dir(name: string | Buffer, children: Node[], over: Partial<Meta> = {}): Node {
    return { kind: 'dir', name: typeof name === 'string' ? B(name) : name, meta: this.meta(over, true), children };
  }
  file(name: string | Buffer, content: Buffer | (() => Buffer), over: Partial<Meta> = {}): Node {
    const c = typeof content === 'function' ? content : () => content;
    return { kind: 'file', name: typeof name === 'string' ? B(name) : name, meta: this.meta(over), content: c };
  }
  symlink(name: string | Buffer, target: string | Buffer, over: Partial<Meta> = {}): Node {
    const t = typeof target === 'string' ? B(target) : target;
    return { kind: 'symlink', name: typeof name === 'string' ? B(name) : name, meta: this.meta({ mode: 0o777, ...over }), target: t };
  }
  special(kind: 'chr' | 'blk' | 'fifo' | 'socket', name: string, over: Partial<Meta> = {}, major = 0, minor = 0): Node {
    const meta = this.meta(over);
    return kind === 'chr' || kind === 'blk'
      ? { kind, name: B(name), meta, major, minor }
      : { kind, name: B(name), meta };
  }
}

/** (seconds, nanoseconds) -> ns since the epoch, exact (no floating point). */
function ns(sec: bigint, nsec: bigint): bigint {
  return sec * NS + nsec;
}

function buildSpec(opts: TrickyTreeOptions, d: TrickyTree): { root: Node; groups: Map<string, Real> } {
  const s = new SpecBuilder();
  const groups = new Map<string, Real>();
  const blockSizes = opts.blockSizes ?? [512, 1024, 2048, 4096];

  // Names: every byte 1..255 except '/', 16 per name; one group becomes a directory.
  const allBytes = [...Array(255).keys()].map((i) => i + 1).filter((b) => b !== 0x2f);
  const byteNames: Node[] = [];
  for (let i = 0; i < allBytes.length; i += 16) {
    const name = B(allBytes.slice(i, i + 16));
    byteNames.push(i === 128 ? s.dir(name, [s.file('inside', B('x'))]) : s.file(name, pseudoRandom(`bytes${i}`, i)));
  }
  const odd = [
    '!x', '-x', '#', '...', '.hidden', '..x', 'new\nline', 'back\\slash', 'caf\xe9', '\xff\xfe', '\xc3\x28',
    '\xed\xa0\x80', ' space ', '*?[glob]', '-rf', '$(x)', '\x01', '\x7f', '\xff',
  ].map((n, i) => s.file(B(n), B(`odd ${i}\n`)));
  const utf8 = s.file(Buffer.from('日本語-ünïcødé', 'utf8'), B('utf8\n'));
  const long = [
    s.file(B('a'.repeat(255)), B('255 a\n')),
    s.dir(B('\xff'.repeat(255)), [s.file(B('\xfe'.repeat(255)), B('deep 255\n'))]),
    s.file(Buffer.concat([Buffer.from('é'.repeat(127), 'utf8'), B('x')]), B('255 utf8\n')),
  ];

  // A directory spanning many blocks at every block size; a few subdirs make its nlink interesting.
  const big: Node[] = [];
  for (let i = 0; i < 3000; i++) {
    const name = `entry-${String(i).padStart(4, '0')}-${'x'.repeat(i % 37)}`;
    big.push(i % 500 === 7 ? s.dir(name, []) : s.file(name, i % 100 === 0 ? B(`${i}\n`) : Buffer.alloc(0)));
  }

  // 40 nested directories.
  let deep: Node = s.file('leaf', B('bottom\n'));
  for (let i = 40; i >= 1; i--) deep = s.dir(`l${String(i).padStart(2, '0')}`, [deep]);
  d.deepest = cat(B('deep'), ...[...Array(40).keys()].map((i) => B(`l${String(i + 1).padStart(2, '0')}`)), B('leaf'));

  // Sizes around each block size (tail-inline vs block boundaries), distinct content each.
  const sizeDirs: Node[] = [];
  for (const bs of blockSizes) {
    const kids: Node[] = [];
    for (const size of [0, 1, bs - 1, bs, bs + 1, 2 * bs - 1, 2 * bs, 2 * bs + 1]) {
      const name = `size-${String(size).padStart(5, '0')}`;
      kids.push(s.file(name, () => pseudoRandom(`bs${bs}-${size}`, size)));
      d.sizedFiles.push({ bs, size, path: cat(B('sizes'), B(`bs${bs}`), B(name)) });
    }
    sizeDirs.push(s.dir(`bs${bs}`, kids));
  }
  const bigSize = 3 * 1024 * 1024 + 12345;
  sizeDirs.push(s.file('big-3MiB', () => pseudoRandom('big', bigSize)));
  d.bigFile = B('sizes/big-3MiB');
  if (opts.big) {
    const G = 1024 * 1024 * 1024;
    sizeDirs.push({
      kind: 'sparse',
      name: B('sparse-5GiB'),
      meta: s.meta(),
      size: 5 * G,
      ranges: [
        [0, pseudoRandom('sparse0', 4096)],
        [G + 1, pseudoRandom('sparse1', 1000)],
        [4 * G - 10, pseudoRandom('sparse2', 20)], // straddles the 4 GiB boundary
        [5 * G - 4097, pseudoRandom('sparse3', 4097)], // runs to EOF
      ],
    });
    d.sparseFile = B('sizes/sparse-5GiB');
  }

  // Hard links: one regular inode under three directories, and a hard-linked symlink.
  groups.set('three', s.file('', () => pseudoRandom('hardlink', 5000), { mode: 0o640, uid: 70000, gid: 70001 }) as Real);
  groups.set('symlink-pair', s.symlink('', 'three') as Real);
  const link = (name: string, group: string): Node => ({ kind: 'link', name: B(name), group });
  const links = s.dir('links', [
    s.dir('a', [link('three', 'three'), link('sym-hard', 'symlink-pair')]),
    s.dir('b', [link('three-2', 'three'), link('sym-hard-2', 'symlink-pair')]),
    s.dir('c', [s.dir('d', [link('three-3', 'three')])]),
  ]);
  d.hardLinks = [B('links/a/three'), B('links/b/three-2'), B('links/c/d/three-3')];
  d.hardLinkedSymlink = [B('links/a/sym-hard'), B('links/b/sym-hard-2')];

  // Symlinks: 4095 bytes is PATH_MAX-1, the longest target Linux accepts; lengths around each bs.
  const longTarget = Buffer.concat([B('\xff\xfe/'), B('long/'.repeat(800)), B('x'.repeat(4095 - 3 - 4000))]);
  const symLens = [...new Set(blockSizes.flatMap((bs) => [bs - 1, bs, bs + 1]))].filter((n) => n <= 4095 && n !== 4095);
  const syms: Node[] = [
    s.symlink('short', '../links/a/three'),
    s.symlink('long-4095', longTarget),
    s.symlink('dangling', 'no/such/target'),
    s.symlink('loop-a', 'loop-b'),
    s.symlink('loop-b', 'loop-a'),
    s.symlink('absolute', '/etc/passwd'),
    s.symlink('to-dir', '../deep'),
    s.symlink('non-utf8', B('\xff\xfe\x80 target')),
    s.symlink('one', 'x'),
    ...symLens.map((n) => s.symlink(`len-${String(n).padStart(4, '0')}`, B('t'.repeat(n)))),
  ];
  d.symlinks = {
    short: B('sym/short'),
    long4095: B('sym/long-4095'),
    dangling: B('sym/dangling'),
    loop: [B('sym/loop-a'), B('sym/loop-b')],
    absolute: B('sym/absolute'),
  };

  // Devices (EROFS packs rdev like new_encode_dev: 12-bit major, 20-bit minor), FIFO, socket.
  const devs: [('chr' | 'blk'), string, number, number][] = [
    ['chr', 'chr-300-70000', 300, 70000],
    ['blk', 'blk-8-1', 8, 1],
    ['chr', 'chr-1-3', 1, 3],
    ['blk', 'blk-4095-1048575', 4095, 1048575], // largest numbers the 32-bit encoding holds
  ];
  const dev: Node[] = devs.map(([k, n, ma, mi]) =>
    s.special(k, n, { mode: 0o660, xattrs: n === 'chr-300-70000' ? [['trusted.dev', B('device xattr')]] : [] }, ma, mi),
  );
  dev.push(s.special('fifo', 'fifo', { mode: 0o620 }), s.special('socket', 'socket', { mode: 0o755 }));
  d.devices = devs.map(([type, n, major, minor]) => ({ type, major, minor, path: cat(B('dev'), B(n)) }));
  d.fifo = B('dev/fifo');
  // An overlayfs whiteout (char 0:0) in a directory of its own: mkfs.erofs >= 1.8 marks a directory
  // holding whiteouts with an empty trusted.overlay.origin xattr, which the source does not have.
  const whiteout = s.dir('whiteout', [s.special('chr', 'wh', { mode: 0o600 }, 0, 0)]);
  d.whiteoutDir = B('whiteout');
  d.devices.push({ type: 'chr', major: 0, minor: 0, path: B('whiteout/wh') });
  d.socket = B('dev/socket');

  // Every mode bit (chown happens before chmod, since chown clears setuid/setgid).
  const modes: Node[] = [0o4755, 0o2755, 0o1777, 0o0000, 0o0777, 0o0640, 0o6777, 0o7777, 0o0001, 0o4000].map((m) =>
    s.file(`f${m.toString(8).padStart(4, '0')}`, B(`mode ${m.toString(8)}\n`), { mode: m }),
  );
  modes.push(
    s.dir('d1777', [s.file('in-sticky', B('x'))], { mode: 0o1777 }),
    s.dir('d2755', [s.file('in-setgid', B('x'))], { mode: 0o2755 }),
    s.dir('d0000', [s.file('in-locked', B('x'))], { mode: 0o0000 }),
    s.dir('d0700', [], { mode: 0o0700 }),
  );

  // Owners: above 16 bits, and at the 16-bit edge (65535 is (u16)-1).
  const owners: Node[] = [
    s.file('u70000', B('o\n'), { uid: 70000, gid: 70000 }),
    s.file('u65535-g65536', B('o\n'), { uid: 65535, gid: 65536 }),
    s.file('u65536-g65535', B('o\n'), { uid: 65536, gid: 65535 }),
    s.symlink('link-70001', 'u70000', { uid: 70001, gid: 70002 }),
    s.dir('dir-70000', [], { uid: 70000, gid: 0 }),
    s.special('chr', 'chr-70000', { uid: 70000, gid: 70000, mode: 0o600 }, 4, 64),
  ];

  // Xattrs of every namespace. user.* is only allowed on regular files and directories (kernel rule),
  // so the symlink and device carry trusted.*.
  d.bigXattr = { name: 'user.big', size: 2048 };
  d.bigXattrFile = B('xattrs/big-value');
  const xattrs: Node[] = [
    s.file('all-ns', B('x\n'), {
      xattrs: [
        ['user.a', B([1])],
        ['trusted.b', B('hi')],
        ['security.c', B('x')],
        ['trusted.overlay.opaque', B('y')], // a name EROFS abbreviates with a built-in prefix index
      ],
    }),
    s.file('empty-value', B(''), { xattrs: [['user.empty', B('')]] }),
    s.file('big-value', B('big\n'), { xattrs: [['user.big', pseudoRandom('bigxattr', 2048)]] }),
    s.file('many', B('many\n'), {
      xattrs: [...Array(24).keys()].map((i) => [`user.k${String(i).padStart(2, '0')}`, B(`value ${i}`)] as [string, Buffer]),
    }),
    s.file('long-name', B('ln\n'), { xattrs: [['user.' + 'n'.repeat(250), B('255-byte name')]] }),
    s.file('binary-value', B('bin\n'), { xattrs: [['user.bin', B([...Array(256).keys()])]] }),
    s.dir('on-dir', [], { xattrs: [['user.d', B('dir')], ['trusted.t', B('dir trusted')]] }),
    s.symlink('on-symlink', 'all-ns', { xattrs: [['trusted.s', B('symlink')], ['security.s', B('sec')]] }),
  ];

  // One (name, value) pair on 20 files, each also with a value of its own.
  const sharedValue = B('the same value on twenty files');
  d.sharedXattr = { name: 'user.shared', value: sharedValue, files: [] };
  const shared: Node[] = [];
  for (let i = 0; i < 20; i++) {
    const n = `s${String(i).padStart(2, '0')}`;
    shared.push(s.file(n, B(`${n}\n`), { xattrs: [['user.shared', sharedValue], ['user.own', B(n)]] }));
    d.sharedXattr.files.push(cat(B('shared'), B(n)));
  }

  // POSIX ACLs (system.posix_acl_access / _default), applied after the children exist so nothing inherits.
  const acl = s.dir('acl', [
    s.file('access', B('acl\n'), { mode: 0o640, acl: [['-m', 'u:1234:rwx,g:5678:r-x']] }),
    s.dir('default', [s.file('child', B('c\n'))], { acl: [['-d', '-m', 'u:1234:r-x,g:5678:rwx']] }),
    s.dir('both', [], { acl: [['-m', 'u:99:r--'], ['-d', '-m', 'o::---']] }),
  ]);
  d.aclFile = B('acl/access');
  d.defaultAclDir = B('acl/default');

  // Times: nanoseconds, before 1970, after 2038 / 2106 (32-bit limits), between -1 s and 0.
  const times = s.dir('times', [
    s.file('ns', B('t\n'), { mtimeNs: ns(1234567890n, 123456789n) }),
    s.file('pre1970', B('t\n'), { mtimeNs: -1234567890_500000000n }),
    s.file('post2106', B('t\n'), { mtimeNs: ns(5000000000n, 1n) }),
    s.file('epoch', B('t\n'), { mtimeNs: 0n }),
    s.file('minus-1ns', B('t\n'), { mtimeNs: -1n }),
    s.file('y2038', B('t\n'), { mtimeNs: ns(2147483648n, 999999999n) }),
    s.file('u32-edge', B('t\n'), { mtimeNs: ns(4294967296n, 5n) }),
    s.dir('old-dir', [s.file('x', B('x'))], { mtimeNs: ns(-86400n * 365n * 50n, 42n) }),
    s.symlink('future-link', 'ns', { mtimeNs: ns(6000000000n, 999999999n) }),
  ]);
  d.times = { ns: B('times/ns'), pre1970: B('times/pre1970'), post2106: B('times/post2106') };

  d.bigDir = B('big-dir');
  d.emptyDir = B('empty');
  const root = s.dir(
    B(''),
    [
      s.dir('names', [...byteNames, ...odd, utf8, ...long]),
      s.dir('big-dir', big),
      s.dir('deep', [deep]),
      s.dir('sizes', sizeDirs),
      links,
      s.dir('sym', syms),
      s.dir('dev', dev),
      whiteout,
      s.dir('modes', modes),
      s.dir('owners', owners),
      s.dir('xattrs', xattrs),
      s.dir('shared', shared),
      acl,
      times,
      s.dir('empty', []),
    ],
    { mtimeNs: ns(1700000000n, 987654321n) },
  );
  return { root, groups };
}

// ---- creation ------------------------------------------------------------------------------

/** Python helpers: paths arrive as hex so that non-UTF-8 bytes survive the argv/stdin boundary. */
const PY_SPECIAL = `
import os, socket, stat, sys
kind, path = sys.argv[1], bytes.fromhex(sys.argv[2])
if kind == 'fifo':
    os.mkfifo(path, 0o600)
elif kind == 'socket':
    d, n = os.path.split(path)
    os.chdir(d)  # sun_path holds only 108 bytes: bind a relative name
    s = socket.socket(socket.AF_UNIX)
    s.bind(n)
    s.close()
else:
    t = stat.S_IFCHR if kind == 'chr' else stat.S_IFBLK
    os.mknod(path, t | 0o600, os.makedev(int(sys.argv[3]), int(sys.argv[4])))
`;

const PY_META = `
import json, os, sys
for line in sys.stdin:
    op = json.loads(line)
    p = bytes.fromhex(op['p'])
    if op['o'] == 'x':
        os.setxattr(p, op['n'], bytes.fromhex(op['v']), follow_symlinks=False)
    else:
        t = int(op['t'])
        os.utime(p, ns=(t, t), follow_symlinks=False)
`;

interface Made {
  rel: Buffer;
  abs: Buffer;
  node: Real;
  depth: number;
}

/**
 * Create the tricky tree at ROOT (created if missing; must be empty). Returns its description.
 * With opts.reverse every directory's entries are created in reverse order.
 */
export function makeTrickyTree(root: string, opts: TrickyTreeOptions = {}): TrickyTree {
  const absRoot = resolve(root);
  const d = { root: absRoot, sizedFiles: [] as TrickyTree['sizedFiles'] } as TrickyTree;
  const { root: spec, groups } = buildSpec(opts, d);

  const made: Made[] = []; // one per inode (the first name of a hard-link group)
  const groupPath = new Map<string, Buffer>();
  let entryCount = 0;

  const create = (node: Node, rel: Buffer, abs: Buffer, depth: number): void => {
    entryCount++;
    if (node.kind === 'link') {
      const first = groupPath.get(node.group);
      if (first) {
        linkSync(first, abs);
        return;
      }
      groupPath.set(node.group, abs);
      node = groups.get(node.group)!;
    }
    switch (node.kind) {
      case 'dir': {
        if (rel.length) mkdirSync(abs);
        else mkdirSync(abs, { recursive: true });
        const kids = opts.reverse ? [...node.children].reverse() : node.children;
        for (const k of kids) create(k, rel.length ? cat(rel, k.name) : k.name, cat(abs, k.name), depth + 1);
        break;
      }
      case 'file':
        writeFileSync(abs, node.content(), { flag: 'wx' });
        break;
      case 'sparse': {
        const fd = openSync(abs, 'wx');
        try {
          ftruncateSync(fd, node.size);
          for (const [off, data] of node.ranges) writeSync(fd, data, 0, data.length, off);
        } finally {
          closeSync(fd);
        }
        break;
      }
      case 'symlink':
        symlinkSync(node.target, abs);
        break;
      case 'chr':
      case 'blk':
        runOk('python3', ['-c', PY_SPECIAL, node.kind, abs.toString('hex'), String(node.major), String(node.minor)]);
        break;
      case 'fifo':
      case 'socket':
        runOk('python3', ['-c', PY_SPECIAL, node.kind, abs.toString('hex')]);
        break;
    }
    made.push({ rel, abs, node, depth });
  };
  create(spec, B(''), B(absRoot), 0);

  // Metadata, in an order where nothing undoes anything: owner, mode (chown clears set-id bits), ACLs
  // (setfacl rewrites the group bits to the ACL mask), xattrs, and times last, directories deepest
  // first, because every earlier step inside a directory changes its mtime.
  for (const m of made) {
    const meta = m.node.meta;
    lchownSync(m.abs, meta.uid, meta.gid);
    if (m.node.kind !== 'symlink') chmodSync(m.abs, meta.mode);
  }
  for (const m of made) {
    for (const args of m.node.meta.acl) {
      if (!/^[\x20-\x7e]*$/.test(m.abs.toString('latin1'))) throw new Error('ACL targets must have ASCII paths');
      runOk('setfacl', [...args, m.abs.toString('latin1')]);
    }
  }
  const ops: string[] = [];
  for (const m of made)
    for (const [n, v] of m.node.meta.xattrs) ops.push(JSON.stringify({ o: 'x', p: m.abs.toString('hex'), n, v: v.toString('hex') }));
  const byTime = [...made].sort((a, b) => {
    const da = a.node.kind === 'dir' ? a.depth : 1e9;
    const db = b.node.kind === 'dir' ? b.depth : 1e9;
    return db - da; // non-directories first, then directories from deepest to the root
  });
  for (const m of byTime) ops.push(JSON.stringify({ o: 't', p: m.abs.toString('hex'), t: m.node.meta.mtimeNs.toString() }));
  runOk('python3', ['-c', PY_META], { input: ops.join('\n') + '\n' });

  d.entryCount = entryCount;
  return d;
}
