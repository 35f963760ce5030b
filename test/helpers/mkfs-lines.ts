// The mkfs.erofs command lines of real pipelines (containerd, systemd-repart/mkosi, Buildroot,
// dracut, Yocto, kata, Android build_image.py) and variants of their syntax: one table, run by
// test/mkfs-compat.test.ts (on a small tree, asserting) and by bench/mkfs-table.ts (on a rootfs-like
// tree, measuring size and time against mkfs.erofs 1.9.3). Also the files a line names (compress
// hints, canned fs_config, file_contexts) made for any source tree, and how the mounted images of a
// line are compared with each other and with the source.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareTrees, type CompareOptions, type TreeSnapshot } from './snapshot.js';

export const UUID = 'c3a4b5d6-e7f8-4a1b-8c2d-3e4f5a6b7c8d';
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export interface Line {
  who: string;
  /**
   * Words of the line. Replaced by paths: IMG, SRC, TAR (the archive), HINTS and HINTS2 (compress
   * hints for one algorithm, and for -zA:B),
   * FSCONFIG, FILECONTEXTS, BLOCKLIST, PRODUCTOUT. With tar 'stdin' SRC is absent and the tar is on stdin.
   */
  argv: string[];
  tar?: 'stdin' | 'file';
  env?: Record<string, string>;
  /** Refused by erofs-forge: its message; `refStatus` is what mkfs.erofs 1.9.3 does with it. */
  refuse?: RegExp;
  refStatus?: number;
  /**
   * Built by erofs-forge, not by mkfs.erofs 1.9.3: its exit status (null: killed by a signal) and why
   * (a default build has no libselinux nor WITH_ANDROID; indexed compress hints crash it).
   */
  refFails?: { status: number | null; why: string };
  /** How the mounted image differs from the source by design. */
  vsSource?: CompareOptions;
  /** --max-extent-bytes: no compressed extent of either image is longer. */
  maxExtent?: number;
  /** --dsunit: every file's data starts at a multiple of this many blocks, in both images. */
  dsunit?: number;
}

const NOXATTR: CompareOptions = { ignoreXattrs: true };
/** The Android line's own xattrs: labels from file_contexts, capabilities from fs_config. */
const ANDROID_XATTRS: CompareOptions = { ignoreXattr: (name) => name === 'security.selinux' || name === 'security.capability' };

export const LINES: Line[] = [
  // containerd EROFS differ: tar on stdin, -b4096 added unless given; recommended extra options.
  { who: 'containerd differ', argv: ['--tar=f', '--aufs', '--quiet', '-Enoinline_data', '-U', UUID, '-b4096', 'IMG'], tar: 'stdin' },
  { who: 'containerd differ + mkfs_options', argv: ['--tar=f', '--aufs', '--quiet', '-Enoinline_data', '-T0', '--mkfs-time', '--sort=none', '-U', UUID, '-b4096', 'IMG'], tar: 'stdin' },
  { who: 'containerd converter', argv: ['--tar=f', '--aufs', '--quiet', '-Enoinline_data', '-zlz4', '-C65536', '-T0', '--mkfs-time', '-U', UUID, 'IMG'], tar: 'stdin' },
  { who: 'containerd directory fallback', argv: ['--quiet', '-Enoinline_data', '-T0', '--mkfs-time', 'IMG', 'SRC'] },
  // Tar index: the caller appends the tar (cat layer.tar >> layer.erofs) before mounting; more in test/tar-index.test.ts.
  { who: 'containerd tar index', argv: ['--tar=i', '--aufs', '--quiet', '-U', UUID, 'IMG'], tar: 'stdin' },
  { who: 'containerd layer cache', argv: ['-zlz4', '-C65536', '-Efragments,dedupe', '-T0', '-U', UUID, 'IMG', 'SRC'] },
  { who: 'containerd -Efragments,dedupe (documented extra options)', argv: ['-Efragments,dedupe', '-zlz4hc', '-T0', '--mkfs-time', '-U', UUID, 'IMG', 'SRC'] },
  // systemd-repart: options after NODE ROOT, words from $SYSTEMD_REPART_MKFS_OPTIONS_EROFS appended.
  { who: 'systemd-repart', argv: ['-U', UUID, 'IMG', 'SRC', '--quiet'] },
  { who: 'systemd-repart -z', argv: ['-U', UUID, 'IMG', 'SRC', '--quiet', '-zlz4hc,level=12', '-T', '1700000000'] },
  { who: 'systemd-repart + env words', argv: ['-U', UUID, 'IMG', 'SRC', '--quiet', '-zlz4hc', '-C', '16384', '-Eztailpacking', '--all-root', '--hard-dereference'], vsSource: { ignoreOwnership: true, ignoreHardLinks: true } },
  // Buildroot (BR2_REPRODUCIBLE), Yocto image types, dracut.
  { who: 'Buildroot', argv: ['-zlz4hc,9', '-C', '65536', '-T', '1700000000', '-U', ZERO_UUID, 'IMG', 'SRC'] },
  { who: 'Buildroot lzma', argv: ['-zlzma,6', '-C', '65536', 'IMG', 'SRC'] },
  { who: 'Yocto erofs', argv: ['IMG', 'SRC'] },
  { who: 'Yocto erofs-lz4', argv: ['-zlz4', 'IMG', 'SRC'] },
  { who: 'Yocto erofs-lz4hc', argv: ['-zlz4hc', 'IMG', 'SRC'] },
  { who: 'dracut', argv: ['-C', '65536', '-E', 'fragments', '-x', '-1', '-U', ZERO_UUID, '-T', '0', '--exclude-path=etc/ssl', 'IMG', 'SRC'],
    vsSource: { ...NOXATTR, ignoreNlinkOfDirs: true, ignorePath: (p) => p.toString().startsWith('etc/ssl') } },
  { who: 'dracut with compression (dracut --squash-compressor)', argv: ['-zlz4hc', '-C', '65536', '-E', 'fragments', '-x', '-1', '-U', ZERO_UUID, '-T', '0', 'IMG', 'SRC'], vsSource: { ...NOXATTR, ignoreNlinkOfDirs: true } },
  { who: 'variant: all-fragments, fragdedupe=inode, ztailpacking, 512-byte blocks, deflate', argv: ['-zdeflate', '-b512', '-C', '8192', '-Eall-fragments=4096,fragdedupe=inode,ztailpacking', '-T0', '-Uclear', 'IMG', 'SRC'] },
  // Without --aufs the archive's whiteout stays a plain file named .wh.removed (in both images).
  { who: 'kata', argv: ['--tar=i', '-T0', '--mkfs-time', 'IMG', 'TAR'], tar: 'file', vsSource: { ignorePath: (p) => p.toString() === '.wh.removed' } },
  // Android build_image.py: the whole line needs libselinux and WITH_ANDROID, which a default
  // mkfs.erofs 1.9.3 build lacks (it refuses it); the second line is what such a build takes of it.
  { who: 'Android build_image.py', argv: ['-z', 'lz4hc,9', '--compress-hints', 'HINTS', '-b', '4096', '--mount-point', 'system', '--product-out', 'PRODUCTOUT',
    '--fs-config-file', 'FSCONFIG', '--file-contexts', 'FILECONTEXTS', '-T', '1700000000', '-U', UUID, '--block-list-file', 'BLOCKLIST', '-C', '65536', 'IMG', 'SRC'],
  refFails: { status: 1, why: 'a default build has no libselinux nor WITH_ANDROID' }, vsSource: ANDROID_XATTRS },
  { who: 'Android, what a default mkfs.erofs 1.9.3 takes of it', argv: ['-z', 'lz4hc,9', '--compress-hints', 'HINTS', '-b', '4096', '--mount-point', 'system',
    '-T', '1700000000', '-U', UUID, '-C', '65536', 'IMG', 'SRC'] },
  // mkfs.erofs 1.9.3 crashes (SIGSEGV) on any hint line with an algorithm index (test/compress-hints.test.ts).
  { who: 'variant: -zA:B with algorithm-indexed compress hints', argv: ['-z', 'lz4hc,9:lz4', '--compress-hints', 'HINTS2', '-C', '65536', '-T0', '-Uclear', 'IMG', 'SRC'],
    refFails: { status: null, why: 'on indexed hints, a known 1.9.3 bug' } },
  // Syntax variants and the point-2 options.
  { who: 'variant: abbreviations, bare --tar, deflate', argv: ['--ta', '--auf', '--qui', '-zdeflate,level=6', '-C', '8k', '-T0', '-Uclear', 'IMG', 'TAR'], tar: 'file' },
  { who: 'variant: ids and inode forms', argv: ['-T0', '-Uclear', '--force-uid=5', '--uid-offset=100', '--gid-offset=7', '-Eforce-inode-extended', 'IMG', 'SRC'], vsSource: { ignoreOwnership: true } },
  { who: 'variant: compact inodes, legacy indexes', argv: ['-Eforce-inode-compact,legacy-compress', '-zlz4hc,4', '-d0', '-T0', '--mkfs-time', 'IMG', 'SRC'], vsSource: { ignoreMtimeOf: () => true } },
  { who: 'variant: --max-extent-bytes', argv: ['-zlz4', '-C65536', '--max-extent-bytes=8k', '-T0', '-Uclear', 'IMG', 'SRC'], maxExtent: 8192 },
  // --dsunit (RAID stripe / 2 MiB-page alignment): flat blocks, pclusters, chunks of each file aligned.
  { who: 'variant: --dsunit=4', argv: ['--dsunit=4', '-T0', '-Uclear', 'IMG', 'SRC'], dsunit: 4 },
  { who: 'variant: --dsunit=8 with lz4hc big pclusters', argv: ['--dsunit=8', '-zlz4hc', '-C16384', '-Eztailpacking', '-T0', '-Uclear', 'IMG', 'SRC'], dsunit: 8 },
  { who: 'variant: --dsunit=4 with 16 KiB chunks', argv: ['--dsunit=4', '--chunksize=16384', '-T0', '-Uclear', 'IMG', 'SRC'], dsunit: 4 },
  { who: 'variant: --sort=path, -d3', argv: ['--sort=path', '-d3', '-zlz4', '-T0', '-Uclear', 'IMG', 'SRC'] },
  { who: 'variant: SOURCE_DATE_EPOCH overrides -T and clamps', argv: ['-T0', '-Uclear', 'IMG', 'SRC'], env: { SOURCE_DATE_EPOCH: '1600000000' }, vsSource: { ignoreMtimeOf: () => true } },
  { who: 'variant: -E48bit', argv: ['-E48bit', 'IMG', 'SRC'], refuse: /^mkfs\.erofs: -E 48bit: /, refStatus: 0 },
  // Android build_image.py adds --chunksize 4096 (uncompressed partitions, and with -z the files not worth compressing).
  { who: 'Android --chunksize', argv: ['--chunksize', '4096', '-b', '4096', '-T', '1700000000', '-U', UUID, 'IMG', 'SRC'] },
  { who: 'Android --chunksize with -z', argv: ['-z', 'lz4hc,9', '-C', '65536', '--chunksize', '4096', '-T', '1700000000', '-U', UUID, 'IMG', 'SRC'] },
  { who: 'variant: --chunksize=64k chunk indexes', argv: ['--chunksize=65536', '-Eforce-chunk-indexes', '-T0', '-Uclear', 'IMG', 'SRC'] },
  { who: 'refused by both: unknown option', argv: ['--bogus', 'IMG', 'SRC'], refuse: /^mkfs\.erofs: unrecognized option '--bogus'$/, refStatus: 1 },
  { who: 'refused by both: bad -E', argv: ['-Enope', 'IMG', 'SRC'], refuse: /^mkfs\.erofs: unknown extended option nope$/, refStatus: 1 },
  { who: 'refused by both: no SOURCE', argv: ['IMG'], refuse: /^mkfs\.erofs: missing argument: SOURCE\(s\)$/, refStatus: 1 },
  { who: 'variant: -zlibdeflate (mkfs.erofs\'s libdeflate encoder; ours writes DEFLATE with its own)', argv: ['-zlibdeflate,level=6', '-C', '16384', '-T0', '-Uclear', 'IMG', 'SRC'] },
  { who: 'refused by both: libdeflate level 13', argv: ['-zlibdeflate,13', 'IMG', 'SRC'], refuse: /^mkfs\.erofs: invalid compression level 13$/, refStatus: 1 },
  { who: 'refused by both: bad -C', argv: ['-zlz4', '-C', '5000', 'IMG', 'SRC'], refuse: /^mkfs\.erofs: invalid physical clustersize 5000$/, refStatus: 1 },
];

/** The paths a line's placeholder words stand for. */
export interface LineFiles {
  src: string;
  tar: string;
  hints: string;
  hints2: string;
  fsConfig: string;
  fileContexts: string;
  productOut: string;
}

/** The argument vector of a line for one image (and its block list beside it). */
export function argvOf(l: Line, f: LineFiles, img: string): string[] {
  const words: Record<string, string> = {
    IMG: img, SRC: f.src, TAR: f.tar, HINTS: f.hints, HINTS2: f.hints2, FSCONFIG: f.fsConfig, FILECONTEXTS: f.fileContexts,
    PRODUCTOUT: f.productOut, BLOCKLIST: `${img}.blocks`,
  };
  const argv = l.argv.map((w) => words[w] ?? w);
  if (l.tar === 'file' && !argv.includes(f.tar)) argv.push(f.tar);
  return argv;
}

export const isTarIndex = (l: Line): boolean => l.argv.some((w) => w === '--tar=i' || w === '--tar=0');

/**
 * Write the files the Android lines name, for the tree at `src`, into `dir`: compress hints (shared
 * objects in 16 KiB pclusters, with the second -z algorithm in the second file, already-compressed files stored as they are),
 * a canned fs_config with every path's own owner and mode (bin/ files get a capability), and
 * file_contexts labels. The compared trees then differ from the source by the labels and capabilities only.
 */
export function writeLineFiles(src: string, dir: string, tar: string): LineFiles {
  fs.mkdirSync(dir, { recursive: true });
  const hints = path.join(dir, 'compress-hints');
  fs.writeFileSync(hints, ['16384 .*\\.so(\\.[0-9]+)*$', '0 .*\\.(gz|xz|zst|png|jpg)$', '4096 .*/doc/.*'].join('\n') + '\n');
  const hints2 = path.join(dir, 'compress-hints-2');
  fs.writeFileSync(hints2, ['16384 1 .*\\.so(\\.[0-9]+)*$', '0 .*\\.(gz|xz|zst|png|jpg)$', '4096 0 .*/doc/.*', '8192 1 ^bin/.*'].join('\n') + '\n');
  const fsConfig = path.join(dir, 'fs_config');
  const lines: string[] = [];
  const rootSt = fs.lstatSync(src);
  lines.push(` ${rootSt.uid} ${rootSt.gid} ${(rootSt.mode & 0o7777).toString(8).padStart(4, '0')}`);
  const walk = (rel: string): void => {
    for (const n of fs.readdirSync(path.join(src, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      // A name with a blank has no entry a canned fs_config can give it: libcutils splits lines on
      // blanks, and keeps the quotes of a quoted name in the key, which then matches no path; a path
      // without an entry is fatal there (and in erofs-forge). Such names are left out, and their
      // trees: the bench builds the lines that name FSCONFIG from a copy without them (treeForFsConfig).
      if (n.includes(' ')) continue;
      const st = fs.lstatSync(path.join(src, r));
      const cap = st.isFile() && /^(usr\/)?s?bin\//.test(r) ? ' capabilities=0x3000' : '';
      lines.push(`system/${r} ${st.uid} ${st.gid} ${(st.mode & 0o7777).toString(8).padStart(4, '0')}${cap}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  fs.writeFileSync(fsConfig, lines.join('\n') + '\n');
  const fileContexts = path.join(dir, 'file_contexts');
  fs.writeFileSync(fileContexts, [
    '/system(/.*)?            u:object_r:system_file:s0',
    '/system/(usr/)?bin(/.*)? u:object_r:system_exec:s0',
    '/system/lib(/.*)?        -- u:object_r:system_lib_file:s0',
    '/system/etc/.*           -- u:object_r:etc_file:s0',
    '/system/usr/share/doc/empty <<none>>',
  ].join('\n') + '\n');
  return { src, tar, hints, hints2, fsConfig, fileContexts, productOut: dir };
}

/** Whether a line names a canned fs_config (its source must then hold no name with a blank). */
export const namesFsConfig = (l: Line): boolean => l.argv.includes('FSCONFIG');

/** Relative paths of the entries of `src` whose own name holds a blank (their trees not walked). */
export function namesWithBlanks(src: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const n of fs.readdirSync(path.join(src, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (n.includes(' ')) out.push(r);
      else if (fs.lstatSync(path.join(src, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/**
 * The differences of a built line's mounts: mkfs.erofs 1.9.3's with ours (when it built), and ours
 * with the source, allowing what the line changes by design. Empty lists: mount-equal.
 */
export function compareLine(l: Line, mounts: { ref?: TreeSnapshot; ours: TreeSnapshot; source: TreeSnapshot }): { refVsOurs: string[]; oursVsSource: string[] } {
  // mkfs.erofs 1.9.3 drops the sub-second part of pax mtimes (checked: "mtime=1796585029.51813717"
  // comes out as .000000000); erofs-forge keeps it, so tar lines compare whole seconds.
  const refVsOurs = mounts.ref ? compareTrees(mounts.ref, mounts.ours, l.tar ? { mtimeSecondsOnly: true } : {}) : [];
  // A tar source may also hold a whiteout, which --aufs turns into a 0:0 character device.
  // --aufs also marks the directory that held it with an empty trusted.overlay.origin (both builders).
  const tarCmp: CompareOptions = l.tar ? {
    ignorePath: (p) => p.toString() === 'removed', mtimeSecondsOnly: true,
    ignoreXattr: (name, p) => name === 'trusted.overlay.origin' && p.length === 0,
  } : {};
  const timeFixed = (l.argv.some((w) => /^-T/.test(w)) && !l.argv.includes('--mkfs-time')) || !!l.env?.SOURCE_DATE_EPOCH;
  const oursVsSource = compareTrees(mounts.source, mounts.ours, {
    ...tarCmp, ...(timeFixed ? { ignoreMtimeOf: () => true } : {}),
    ...(l.argv.includes('-x') ? NOXATTR : {}), ...l.vsSource,
    ignorePath: (p) => (tarCmp.ignorePath?.(p) ?? false) || (l.vsSource?.ignorePath?.(p) ?? false),
    ignoreXattr: (n, p) => (tarCmp.ignoreXattr?.(n, p) ?? false) || (l.vsSource?.ignoreXattr?.(n, p) ?? false),
  });
  return { refVsOurs, oursVsSource };
}
