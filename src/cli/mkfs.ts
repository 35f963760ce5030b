// `erofs-forge mkfs ARGS…` and the program run as `mkfs.erofs`: mkfs.erofs 1.9.3's command line
// (src/cli/mkfs-args.ts) mapped onto the builder. Exit status as mkfs.erofs: 0 on success, 1 on
// any refusal or failure, after one line naming the reason.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildImage, scanTarSource } from '../pipeline/build.js';
import { defaultBuildOptions, type BuildOptions } from '../pipeline/options.js';
import { UserError } from '../errors.js';
import type { Inode } from '../source/tree.js';
import { parseEpoch, parseUuid } from './parse.js';
import { parseMkfsArgs, type MkfsArgs } from './mkfs-args.js';
import { codecUnavailable } from '../compress/codec.js';
import { parseCompressHints } from '../pipeline/plan/compress-hints.js';
import { userMessage } from './entry.js';
import { FORGE_VERSION } from './version.js';

export const MKFS_COMPAT_VERSION = '1.9.3';

export function mkfsUsage(prog: string): string {
  return `Usage: ${prog} [OPTIONS] FILE SOURCE
Generate an EROFS image (FILE) from SOURCE, a directory or (with --tar) a tar archive (stdin
when SOURCE is omitted). mkfs.erofs ${MKFS_COMPAT_VERSION} command line, implemented by erofs-forge ${FORGE_VERSION}.
Options may follow FILE SOURCE; long options may be abbreviated to a unique prefix.

 -V, --version            print the version and exit
 -h, --help               print this help and exit
 -b#                      block size, 512..4096 (default 4096)
 -d#                      verbosity 0..9 (default 2: warnings and a summary)
 -x#                      share an xattr used by more than # inodes (default 2); < 0 drops all xattrs
 -zX[,level=Y]            compress with X: lz4, lz4hc (level 0-12, default 9), deflate (level 0-9,
                          default 1); old form -zX,Y accepted
 -zX[,Y]:Z[,W]...         several algorithms, chosen per file by --compress-hints (index 0, 1, ...)
 --compress-hints=FILE    per-file pcluster size and algorithm: lines "BYTES [ALG_INDEX] REGEX",
                          first match wins, BYTES 0 stores the file uncompressed
 -C#                      largest physical cluster in bytes (multiple of the block size, <= 1 MiB)
 --max-extent-bytes=#     offer the compressor at most # input bytes per pcluster (>= block size)
 -EX[,...]                extended options, ^X to clear: ztailpacking, dedupe, legacy-compress,
                          fragments[=#] and all-fragments[=#] (file tails / whole files in the
                          packed inode, # its pcluster size), fragdedupe[=inode|full],
                          noinline_data, inline_data, force-inode-compact, force-inode-extended,
                          xattr-name-filter, plain-xattr-prefixes, force-inode-blockmap,
                          force-chunk-indexes (8-byte chunk indexes instead of the 4-byte block map)
 --chunksize=#            uncompressed files (with -z: those not worth compressing) become
                          chunk-based with #-byte chunks (a power of two >= the block size);
                          identical chunks are stored once, all-zero chunks are holes
 -L label                 volume label (at most 15 bytes)
 -T#                      fixed UNIX time (SOURCE_DATE_EPOCH, when set, takes its place and clamps)
    --all-time            -T applies to every file (default)
    --mkfs-time           -T applies to the build time only
 -UX                      UUID, "clear" or "random" (default)
 --all-root               every file owned by root
 --force-uid=#            set every uid
 --force-gid=#            set every gid
 --uid-offset=#           add # to every uid (after --force-uid)
 --gid-offset=#           add # to every gid (after --force-gid)
 --hard-dereference       hard links become separate inodes
 --ignore-mtime           files take the build time (compact inodes)
 --preserve-mtime         keep each file's mtime (default)
 --exclude-path=X         leave out X (path relative to SOURCE, repeatable)
 --exclude-regex=X        leave out paths matching X (repeatable)
 --mount-point=X          path prefix of SOURCE on the target, for --file-contexts, --fs-config-file
                          and --block-list-file
 --file-contexts=X        SELinux labels (security.selinux) from file_contexts X
 --fs-config-file=X       Android canned fs_config X: uid, gid, mode, capabilities (security.capability)
 --product-out=X          Android PRODUCT_OUT directory (with --fs-config-file)
 --block-list-file=X      write each file's block ranges to X (with --mount-point)
 --tar=X                  SOURCE is a tar archive (or stdin): X = f (full image; also a bare --tar),
                          i or 0 (tar index: metadata only, 512-byte blocks, file data read from the
                          tar the caller appends to the image), headerball (headers-only stream:
                          files read as zeros)
 --aufs                   turn aufs whiteouts into overlayfs ones (with --tar)
 --ovlfs-strip[=<0,1>]    drop overlayfs whiteouts and opaque xattrs (with --tar)
 --ungzip, --gzip         the tar stream is gzip-compressed (detected anyway)
 --sort=<path,none>       data order for tar sources; both give the same files (data is kept in path order)
 --quiet                  print nothing but errors
 --workers=#              worker threads (images never depend on it)
 --async-queue-limit=#    accepted; no bearing on the image
 --xattr-prefix=X         extra long xattr name prefix (repeatable)
 --xattr-inode-digest[=X] SHA-256 of each file in xattr X (default erofs.fingerprint.v1)
 --zfeature-bits=#        toggle -E features by bit: 0 legacy-compress, 1 ztailpacking, 2 fragments,
                          3 all-fragments, 4 dedupe, 5 fragdedupe
 --clean[=data]           full build (the default)
 --dsunit=#               every file's data (blocks, pclusters, chunks) starts at a multiple of # blocks
 --fsalignblks=#, --offset=#, --root-xattr-isize=#, --zD=1, --MZ=0
                          accepted in their no-op forms only (1, 0, 0)

Refused with one line (not implemented): --tar=i,MAPFILE, sparse members and -z, --chunksize,
-E dedupe, --xattr-inode-digest with --tar=i or headerball, --blobdev,
--max-extent-bytes < 0,
-E 48bit, -E dot-omitted, -E nosbcrc, -m, --incremental, --vmdk-desc, --gzinfo, --unxz, --unlzma,
--fsalignblks > 1, --offset/--root-xattr-isize > 0, --zD, --MZ.

Examples:
  erofs-forge mkfs -zlz4hc,9 -C 65536 -T 0 -U clear rootfs.img rootfs/
  erofs-forge mkfs --tar=f --aufs --quiet -Enoinline_data -U UUID layer.erofs < layer.tar
  erofs-forge mkfs --tar=i --aufs --quiet -U UUID layer.erofs < layer.tar && cat layer.tar >> layer.erofs
  ln -s "$(command -v erofs-forge)" /usr/local/bin/mkfs.erofs    then pipelines call it as mkfs.erofs
`;
}

function say(prog: string, msg: string): void {
  process.stderr.write(`${path.basename(prog)}: ${msg}\n`);
}

/** Run a mkfs.erofs command line; `prog` is the name it was called by (for messages). */
export async function mkfsMain(argv: string[], prog = 'mkfs.erofs'): Promise<number> {
  let a: MkfsArgs;
  try {
    a = parseMkfsArgs(argv);
  } catch (e) {
    if (e instanceof UserError) {
      say(prog, e.message);
      return 1;
    }
    throw e;
  }
  if (a.action === 'help') {
    process.stdout.write(mkfsUsage(prog));
    return 0;
  }
  if (a.action === 'version') {
    // mkfs.erofs 1.9.3 lists what it was built with in its own order; we list what this Node can write
    // (zstd needs node:zlib's, from 22.15).
    const names = ['lz4', 'lz4hc', 'lzma', 'deflate', 'zstd'].filter((n) => codecUnavailable(n) === null);
    process.stdout.write(`mkfs.erofs (erofs-forge ${FORGE_VERSION}) ${MKFS_COMPAT_VERSION}\navailable compressors: ${names.join(', ')}\n`);
    return 0;
  }
  const chatty = !a.quiet && a.debug >= 2;
  if (chatty) process.stdout.write(`${path.basename(prog)} (erofs-forge ${FORGE_VERSION}) ${MKFS_COMPAT_VERSION}\n`);
  try {
    await runMkfs(a, chatty);
    return 0;
  } catch (e) {
    // A user error, or a bug: mkfs.erofs's status either way; one line, as every entry point
    // (EROFS_FORGE_DEBUG=1 adds a bug's stack).
    const msg = userMessage(e);
    if (msg !== null) say(prog, msg);
    else {
      say(prog, `internal error: ${e instanceof Error && e.message ? e.message.split('\n')[0] : String(e)}`);
      if (process.env.EROFS_FORGE_DEBUG) process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    }
    return 1;
  }
}

function buildOptionsOf(a: MkfsArgs): BuildOptions {
  const over: Partial<BuildOptions> = { blockSize: a.blockSize };
  // mkfs.erofs parses SOURCE_DATE_EPOCH after the options: when set it replaces -T, and newer
  // mtimes are clamped to it (lib/inode.c TIMESTAMP_CLAMPING), whatever --all-time says.
  const sde = process.env.SOURCE_DATE_EPOCH;
  if (sde !== undefined) {
    if (!/^\d+$/.test(sde)) throw new UserError(`environment variable $SOURCE_DATE_EPOCH ${sde} is invalid`);
    over.sourceDateEpoch = parseEpoch(sde, 'SOURCE_DATE_EPOCH');
  } else if (a.timestamp !== undefined) {
    over.timestamp = a.timestamp;
    over.timeMode = a.timeMode === 'mkfs' ? 'mkfs' : 'all';
  }
  // mkfs.erofs's clock has whole seconds (fixed_nsec = 0).
  over.now = () => ({ sec: BigInt(Math.floor(Date.now() / 1000)), nsec: 0 });
  over.ignoreMtime = a.ignoreMtime;
  over.uuid = a.uuid ?? parseUuid('random');
  if (a.label !== undefined) over.label = Buffer.from(a.label);
  over.inlineData = a.inlineData;
  over.xattrNameFilter = a.xattrNameFilter;
  if (a.xattrTolerance !== undefined) over.xattrTolerance = a.xattrTolerance;
  over.xattrPrefixes = a.xattrPrefixes.map((p) => Buffer.from(p));
  if (a.workers !== undefined) over.workers = a.workers;
  if (a.inodeVersion) over.inodeVersion = a.inodeVersion;
  if (a.codec) {
    over.compression = {
      codec: a.codec, pclusterSize: a.pclusterSize ?? a.blockSize,
      ztailpacking: a.ztailpacking, dedupe: a.dedupe, legacyIndexes: a.legacyCompress,
    };
    if (a.alternatives.length) over.compression.alternatives = a.alternatives;
    if (a.compressHints !== undefined) {
      let text: string;
      try {
        text = fs.readFileSync(a.compressHints, 'latin1');
      } catch (e) {
        throw new UserError(`failed to load compress hints ${a.compressHints}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const warn = a.quiet || a.debug < 2 ? () => {} : (m: string) => process.stderr.write(`mkfs.erofs: warning: ${m}\n`);
      const { hints, maxPclusterSize } = parseCompressHints(text, a.compressHints, a.blockSize, 1 + a.alternatives.length, warn);
      over.compression.hints = hints;
      if (maxPclusterSize > over.compression.pclusterSize) warn(`update max pclustersize to ${maxPclusterSize / a.blockSize} blocks`);
    }
    if (a.fragments) {
      over.compression.fragments = {
        all: a.allFragments, dedupe: a.fragdedupe, packedPclusterSize: a.packedPclusterSize ?? over.compression.pclusterSize,
      };
    }
    // Only compressed files have extents to cap (mkfs.erofs checks the value per compressed file).
    const m = a.maxExtentBytes;
    if (m !== undefined) {
      if (m < 0) throw new UserError('Unaligned compressed extents must be used with the 48bit encoded extent layout, which erofs-forge does not implement');
      if (m < a.blockSize) throw new UserError(`Maximum compressed extent size (${m}) must be at least the block size (${a.blockSize})`);
      over.compression.maxExtentBytes = m;
    }
  }
  if (a.chunkbits !== undefined) over.chunks = { chunkbits: a.chunkbits, indexes: a.chunkIndexes, dedupe: !a.dedupeOff };
  // mkfs.erofs 1.9.3: -E dedupe without -z deduplicates block-sized chunks instead, whatever --chunksize said.
  if (!a.codec && a.dedupe) {
    over.chunks = { chunkbits: Math.log2(a.blockSize), indexes: a.chunkIndexes, dedupe: true, noFeatureBit: a.chunkbits === undefined };
  }
  if (a.xattrInodeDigest !== undefined) over.fingerprint = { name: Buffer.from(a.xattrInodeDigest), scheme: 'sha256' };
  over.warn = a.quiet || a.debug < 2 ? () => {} : (m) => process.stderr.write(`mkfs.erofs: warning: ${m}\n`);
  if (a.dsunit > 1) {
    over.dataAlignBlocks = a.dsunit;
    if (a.chunkbits !== undefined && 2 ** a.chunkbits / a.blockSize < a.dsunit) {
      over.warn?.(`chunksize ${2 ** a.chunkbits} bytes is smaller than dsunit ${a.dsunit} blocks: chunks are not aligned`);
    }
  }
  return defaultBuildOptions(over);
}

async function runMkfs(a: MkfsArgs, chatty: boolean): Promise<void> {
  if (a.tar) {
    for (const [set, name] of [[a.fsConfigFile, '--fs-config-file'], [a.fileContexts, '--file-contexts'], [a.hardDereference || undefined, '--hard-dereference']] as const) {
      if (set !== undefined) throw new UserError(`${name} applies to directory sources, not --tar (as in mkfs.erofs)`);
    }
    if (a.excludePaths.length || a.excludeRegexes.length) throw new UserError('--exclude-path and --exclude-regex apply to directory sources, not --tar');
  }
  if (a.productOut !== undefined && a.fsConfigFile === undefined) {
    throw new UserError('--product-out without --fs-config-file: AOSP\'s built-in fs_config tables are not implemented by erofs-forge (give the canned fs_config)');
  }
  const o = buildOptionsOf(a);
  const fsConfig = a.fsConfigFile !== undefined ? (await import('../source/android-fs-config.js')).loadFsConfig(a.fsConfigFile) : undefined;
  const fileContexts = a.fileContexts !== undefined ? (await import('../source/file-contexts.js')).loadFileContexts(a.fileContexts) : undefined;

  const hook = await perFileHook(a, o, fsConfig, fileContexts);
  let res: Awaited<ReturnType<typeof buildImage>>;
  if (a.tar) {
    const scan = await scanTarSource(a.source, o, { gzip: a.gzip ? true : 'auto', aufs: a.aufs, ovlfsStrip: a.ovlfsStrip, index: a.tarIndex });
    try {
      walkOnce(scan.tree, hook);
      res = await buildImage(a.image, { tree: scan.tree }, o);
    } finally {
      scan.cleanup();
    }
  } else {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(a.source);
    } catch (e) {
      throw new UserError(`failed to stat ${a.source}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!st.isDirectory()) throw new UserError(`${a.source}: not a directory; rebuilding from EROFS images is not implemented by erofs-forge (use --tar for an archive)`);
    // The per-file options are applied as the scan makes each inode (in the order mkfs.erofs fills
    // them), so compression starts while the walk goes on, as in `erofs-forge build`.
    res = await buildImage(a.image, {
      dir: a.source, excludePaths: a.excludePaths, excludeRegexes: a.excludeRegexes,
      onInode: hook, hardDereference: a.hardDereference,
    }, o);
  }
  if (a.blockListFile !== undefined) await writeBlockList(a.image, a.blockListFile, a.mountPoint);
  if (chatty) {
    process.stdout.write(`Filesystem UUID: ${formatUuid(o.uuid)}\n`
      // mkfs.erofs counts the tar's blocks (the device slot) in a tar index image's total.
      + `Filesystem total blocks: ${res.blocks + (o.tarIndex?.mode === 'tar' ? Math.ceil(o.tarIndex.archiveBytes / o.blockSize) : 0)} (of ${o.blockSize}-byte blocks)\n`
      + `Filesystem total inodes: ${res.inodes}\n`);
  }
}

type FsConfig = ReturnType<typeof import('../source/android-fs-config.js')['loadFsConfig']>;
type FileContexts = ReturnType<typeof import('../source/file-contexts.js')['loadFileContexts']>;

/**
 * mkfs.erofs's per-file options for one inode at its path `rel` ('' = root, latin1), in the order of
 * mkfs.erofs __erofs_fill_inode: fs_config, then --force-*, then the offsets (u32 wrap), then the
 * file_contexts label.
 */
async function perFileHook(a: MkfsArgs, o: BuildOptions, fsConfig: FsConfig | undefined, fileContexts: FileContexts | undefined): Promise<(n: Inode, rel: string) => void> {
  const { fsConfigKey, capabilityXattr } = await import('../source/android-fs-config.js');
  const { lookupContext, selabelPath } = await import('../source/file-contexts.js');
  const SELINUX = Buffer.from('security.selinux');
  const CAPABILITY = Buffer.from('security.capability');
  const labels = fileContexts && o.xattrTolerance >= 0 ? fileContexts : undefined;
  return (n, rel) => {
    if (fsConfig) {
      const key = fsConfigKey(rel, a.mountPoint);
      const e = fsConfig.get(key);
      if (!e) throw new UserError(`failed to find ${key} in canned fs_config ${a.fsConfigFile}`);
      n.uid = e.uid;
      n.gid = e.gid;
      n.mode = (n.mode & 0o170000) | e.mode;
      if (e.capabilities) {
        n.xattrs = [...n.xattrs.filter((x) => !x.name.equals(CAPABILITY)), { name: CAPABILITY, value: capabilityXattr(e.capabilities) }];
      }
    }
    if (a.fixedUid !== undefined) n.uid = a.fixedUid;
    if (a.fixedGid !== undefined) n.gid = a.fixedGid;
    n.uid = (n.uid + a.uidOffset) >>> 0;
    n.gid = (n.gid + a.gidOffset) >>> 0;
    if (labels) {
      // With file_contexts the source's own security.selinux is dropped (lib/xattr.c), labelled or not.
      const kept = n.xattrs.filter((x) => !x.name.equals(SELINUX));
      const ctx = lookupContext(labels, selabelPath(rel, a.mountPoint), n.kind);
      n.xattrs = ctx === null ? (kept.length === n.xattrs.length ? n.xattrs : kept)
        : [...kept, { name: SELINUX, value: Buffer.from(ctx, 'latin1') }];
    }
  };
}

function formatUuid(u: Uint8Array): string {
  const h = Buffer.from(u).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Each inode once, with the path of its first name in sorted depth-first order ('' = root), latin1. */
function walkOnce(root: Inode, visit: (n: Inode, rel: string) => void): void {
  const seen = new Set<Inode>();
  const stack: [Inode, string][] = [[root, '']];
  while (stack.length) {
    const [n, rel] = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    visit(n, rel);
    if (n.entries) {
      const { names, inodes } = n.entries;
      for (let i = inodes.length - 1; i >= 0; i--) stack.push([inodes[i], rel ? `${rel}/${names[i]}` : names[i]]);
    }
  }
}

/**
 * --block-list-file (AOSP mkfs.erofs, lib/block_list.c before 1.9): per regular file with data
 * blocks, "/MOUNT/PATH" and its block ranges ("N" or "A-B"), one line, files in block order.
 * Lines are written only with --mount-point, as there.
 */
async function writeBlockList(image: string, file: string, mountPoint: string | undefined): Promise<void> {
  const lines: { first: number; text: string }[] = [];
  if (mountPoint !== undefined) {
    const { ErofsImage } = await import('../read/image.js');
    const { compressedExtents } = await import('../read/zdata.js');
    const { INODE_FLAT_PLAIN, INODE_FLAT_INLINE, INODE_COMPRESSED_FULL, INODE_COMPRESSED_COMPACT, INODE_CHUNK_BASED, NULL_ADDR } = await import('../format/constants.js');
    const img = ErofsImage.open(image);
    try {
      const bs = img.blockSize;
      const seen = new Set<number>();
      img.walk((p, ino) => {
        if (ino.kind !== 'reg' || seen.has(ino.nid)) return;
        seen.add(ino.nid);
        const blocks: number[] = [];
        if (ino.datalayout === INODE_FLAT_PLAIN || ino.datalayout === INODE_FLAT_INLINE) {
          const n = ino.datalayout === INODE_FLAT_PLAIN ? Math.ceil(ino.size / bs) : Math.floor(ino.size / bs);
          for (let b = 0; b < n; b++) blocks.push(ino.u + b);
        } else if (ino.datalayout === INODE_COMPRESSED_FULL || ino.datalayout === INODE_COMPRESSED_COMPACT) {
          const seenPa = new Set<number>();
          for (const e of compressedExtents(img, ino)) {
            if (e.inline || e.kind === 'fragment' || seenPa.has(e.pa)) continue;
            seenPa.add(e.pa);
            for (let b = 0; b < e.plen / bs; b++) blocks.push(e.pa / bs + b);
          }
        } else if (ino.datalayout === INODE_CHUNK_BASED) {
          // Chunks in file order, holes left out (a chunk shared with another file is listed for both).
          const { chunkbits, blocks: starts } = img.chunkMap(ino);
          starts.forEach((s, k) => {
            if (s === NULL_ADDR) return;
            const n = Math.ceil(Math.min(2 ** chunkbits, ino.size - k * 2 ** chunkbits) / bs);
            for (let b = 0; b < n; b++) blocks.push(s + b);
          });
        }
        if (!blocks.length) return;
        const ranges: string[] = [];
        for (let i = 0; i < blocks.length;) {
          let j = i;
          while (j + 1 < blocks.length && blocks[j + 1] === blocks[j] + 1) j++;
          ranges.push(j === i ? `${blocks[i]}` : `${blocks[i]}-${blocks[j]}`);
          i = j + 1;
        }
        const rel = p.toString('latin1').replace(/^\/+/, '');
        lines.push({ first: blocks[0], text: `/${mountPoint}/${rel} ${ranges.join(' ')}` });
      });
    } finally {
      img.close();
    }
  }
  lines.sort((x, y) => x.first - y.first);
  try {
    fs.writeFileSync(file, Buffer.from(lines.map((l) => l.text + '\n').join(''), 'latin1'));
  } catch (e) {
    throw new UserError(`--block-list-file ${file}: cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

