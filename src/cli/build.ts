// `erofs-forge build`: parse, call the core, print.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { buildImage } from '../pipeline/build.js';
import { defaultBuildOptions, type BuildOptions, type CompressionOptions } from '../pipeline/options.js';
import { parseCompressor, type CodecSpec } from '../compress/codec.js';
import { parseCompressHints } from '../pipeline/plan/compress-hints.js';
import { UserError } from '../errors.js';
import { progressLine } from './progress.js';
import { DEFAULT_FINGERPRINT_NAME, vendorUuid, type Scheme } from '../fingerprint/scheme.js';
import { loadUuidMap, saveUuidMap, assignUuid, type UuidMap } from '../fingerprint/uuid-map.js';
// The image reader (for --manifest) is loaded only when used; build.ts loads the tar reader for --tar.
import { addSealOptions, sealRequest, sealLine, sealJson, type RawVerityOpts } from './verity-options.js';
import type { SealedImage } from '../verity/image.js';
import {
  parseBlockSize, parseEpoch, parseSize, parseUuid, parseId, parseInteger, parseRegex, collect, parseExtended,
} from './parse.js';

interface RawBuildOpts extends RawVerityOpts {
  b?: number; T?: bigint; allTime?: boolean; mkfsTime?: boolean; ignoreMtime?: boolean; preserveMtime?: boolean;
  U?: Uint8Array; L?: string; allRoot?: boolean; forceUid?: number; forceGid?: number;
  excludePath?: string[]; excludeRegex?: RegExp[]; E?: string[]; x?: number; xattrPrefix?: string[];
  z?: CodecSpec[]; C?: number; compressHints?: string; chunksize?: number; workers?: number; manifest?: string; cache?: string;
  quiet?: boolean; json?: boolean; xattrInodeDigest?: string | boolean; fingerprint?: Scheme;
  vendorNamespace?: Uint8Array; uuidMap?: string;
  tar?: string; gzip?: boolean; ungzip?: boolean; aufs?: boolean; ovlfsStrip?: boolean;
}

/** Apply a -E list (mkfs.erofs spellings) to options, rejecting unknown names. */
function applyExtended(list: string[], o: Partial<BuildOptions>, z: Partial<CompressionOptions>, chunk: { indexes?: boolean },
  frag: { on?: boolean; all?: boolean; dedupe?: 'full' | 'inode' | 'off'; packed?: number }): void {
  /** Names that take a value after "=" (the others refuse one). */
  const withValue = new Set(['fragments', 'all-fragments', 'fragdedupe']);
  const table: Record<string, (on: boolean, value?: string) => void> = {
    inline_data: (on) => { o.inlineData = on; },
    noinline_data: (on) => { o.inlineData = !on; },
    'xattr-name-filter': (on) => { o.xattrNameFilter = on; },
    ztailpacking: (on) => { z.ztailpacking = on; },
    dedupe: (on) => { z.dedupe = on; },
    'legacy-compress': (on) => { z.legacyIndexes = on; },
    // mkfs.erofs spellings: fragments[=SIZE] / all-fragments[=SIZE] (SIZE: the packed inode's pcluster), fragdedupe[=inode|full].
    fragments: (on, v) => { frag.on = on; if (on && v !== undefined) frag.packed = parseSize(v, '-E fragments'); },
    'all-fragments': (on, v) => { frag.all = on; frag.on = on; if (on && v !== undefined) frag.packed = parseSize(v, '-E all-fragments'); },
    fragdedupe: (on, v) => {
      if (on && v !== undefined && v !== 'inode' && v !== 'full') throw new UserError(`-E fragdedupe=${v}: must be inode or full`);
      frag.dedupe = !on ? 'off' : v === 'inode' ? 'inode' : 'full';
    },
    // As mkfs.erofs: set whatever the "^", the last one wins.
    'force-chunk-indexes': () => { chunk.indexes = true; },
    'force-inode-blockmap': () => { chunk.indexes = false; },
  };
  for (const item of list.flatMap(parseExtended)) {
    const set = table[item.name];
    if (!set) throw new UserError(`-E ${item.name}: unknown extended option (known: ${Object.keys(table).join(', ')})`);
    if (item.value !== undefined && (!withValue.has(item.name) || !item.on)) throw new UserError(`-E ${item.name}=${item.value}: takes no value`);
    set(item.on, item.value);
  }
}

function parseNamespace(v: string): Uint8Array {
  if (v === 'clear' || v === 'random') throw new UserError(`--vendor-namespace ${v}: needs a UUID`);
  try {
    return parseUuid(v);
  } catch {
    throw new UserError(`--vendor-namespace ${v}: not a UUID`);
  }
}

/** mkfs.erofs 1.9.3's options (from its --help), so that one we lack is named as such, not as a typo. */
const MKFS_OPTIONS = new Set(('--all-time --mkfs-time --all-root --async-queue-limit --aufs --blobdev --chunksize --clean '
  + '--dsunit --exclude-path --exclude-regex --force-gid --force-uid --fsalignblks --gid-offset --gzinfo '
  + '--hard-dereference --ignore-mtime --incremental --max-extent-bytes --mount-point --offset --ovlfs-strip --preserve-mtime '
  + '--quiet --root-xattr-isize --sort --tar --uid-offset --ungzip --unxz --vmdk-desc --workers --xattr-inode-digest '
  + '--xattr-prefix --zfeature-bits -C -E -L -T -U -b -d -m -x -z').split(' '));

/** An unknown option that mkfs.erofs has: "mkfs.erofs option X is not supported by erofs-forge". */
function mkfsUnknownOptions(cmd: Command): Command {
  // unknownOption is commander's (internal, untyped) hook for an option it does not know.
  const c = cmd as unknown as { unknownOption: (flag: string) => never };
  const unknown = c.unknownOption.bind(cmd);
  c.unknownOption = (flag: string) => {
    const name = flag.startsWith('--') ? flag.replace(/=.*$/, '') : flag.slice(0, 2);
    if (MKFS_OPTIONS.has(name)) {
      cmd.error(`error: mkfs.erofs option ${name} is not supported by erofs-forge${name === '--unxz' ? ' (decompress the archive first: xz -dc A | erofs-forge build --tar IMAGE -)' : ''}`, { code: 'commander.unknownOption', exitCode: 2 });
    }
    return unknown(flag);
  };
  return cmd;
}

/**
 * mkfs.erofs spells these as bare flags or with "=": `--tar` / `--tar=f`, `--ovlfs-strip` / `--ovlfs-strip=0|1`.
 * Commander's optional values would take IMAGE as the value of a bare flag, so a bare one is rewritten first.
 */
function mkfsOptionalValues(cmd: Command): Command {
  const parse = cmd.parseOptions.bind(cmd);
  const bare: Record<string, string> = { '--tar': '--tar=f', '--ovlfs-strip': '--ovlfs-strip=1' };
  cmd.parseOptions = (argv: string[]) => {
    const end = argv.indexOf('--');
    return parse(argv.map((a, i) => ((end < 0 || i < end) && bare[a]) || a));
  };
  return cmd;
}

export function buildCommand(): Command {
  return mkfsUnknownOptions(mkfsOptionalValues(addSealOptions(new Command('build')
    .description('build an EROFS image from a directory or a tar archive')
    .argument('<IMAGE>', 'image file to write (replaced atomically; through a symlink, its target), or a block device (written in place)')
    .argument('<SOURCE>', 'source directory (with --tar: a tar archive, or - for stdin)')
    .option('-b <size>', 'block size: 512, 1024, 2048 or 4096', parseBlockSize)
    .option('-T <epoch>', 'fixed build time in seconds (default: SOURCE_DATE_EPOCH when set)', (v) => parseEpoch(v, '-T'))
    .option('--all-time', 'with -T: every inode gets that time (default)')
    .option('--mkfs-time', 'with -T: only the superblock build time')
    .option('--ignore-mtime', 'drop file mtimes (all become the build time) for compact inodes')
    .option('--preserve-mtime', 'keep file mtimes (default)')
    .option('-U <uuid>', 'volume UUID: a UUID, "clear" or "random" (default)', parseUuid)
    .option('-L <label>', 'volume label (up to 16 bytes)')
    .option('--all-root', 'make every file owned by root')
    .option('--force-uid <uid>', 'set every uid', (v) => parseId(v, '--force-uid'))
    .option('--force-gid <gid>', 'set every gid', (v) => parseId(v, '--force-gid'))
    .option('--exclude-path <path>', 'leave out this path (relative to SOURCE, repeatable)', collect(String))
    .option('--exclude-regex <regex>', 'leave out paths matching this regex (repeatable)', collect(parseRegex))
    .option('-z <algorithm>', 'compress files: lz4, lz4hc[,level=0..12] (default 9), deflate[,level=0..9] (default 2), zstd[,level=0..22] (default 3; Node >= 22.15), lzma[,level=0..9|100..109] (default 6); A:B:... several, chosen per file by --compress-hints', (v) => v.split(':').filter(Boolean).map(parseCompressor))
    .option('--compress-hints <file>', 'per-file pcluster size and algorithm (mkfs.erofs format: lines "BYTES [ALG_INDEX] REGEX" on paths relative to SOURCE, first match wins, BYTES 0 = uncompressed)')
    .option('-C <bytes>', 'largest pcluster (multiple of the block size, up to 1048576; default one block)', (v) => parseSize(v, '-C'))
    .option('--chunksize <bytes>', 'uncompressed files (with -z: those not worth compressing) become chunk-based with chunks of this size (a power of two, at least the block size); identical chunks are stored once, all-zero chunks are holes', (v) => parseSize(v, '--chunksize'))
    .option('--cache <dir>', 'reuse compressed data from earlier builds kept in this directory (a file whose path and stat, ctime included, are unchanged is not read again)')
    .option('--workers <n>', 'worker threads for hashing and compression (default: CPUs)', (v) => parseInteger(v, '--workers'))
    .option('-E <options>', 'extended options: ztailpacking, dedupe, legacy-compress, fragments[=size], all-fragments[=size], fragdedupe[=inode|full], noinline_data, ^xattr-name-filter, force-chunk-indexes, force-inode-blockmap', collect(String))
    .option('-x <n>', 'share an xattr used by more than n inodes (default 2); -1 drops all xattrs', (v) => parseInteger(v, '-x'))
    .option('--xattr-prefix <prefix>', 'long xattr name prefix, e.g. trusted.overlay. (repeatable)', collect(String))
    .option('--xattr-inode-digest [name]', `fingerprint xattr on every non-empty file (name after "=", default ${DEFAULT_FINGERPRINT_NAME})`)
    .addOption(new Option('--fingerprint <scheme>', 'fingerprint value: sha256 (default), blake3, or uuid (vendor IDs)').choices(['sha256', 'blake3', 'uuid']))
    .option('--vendor-namespace <uuid>', 'uuid scheme: UUIDv5 of each file\'s SHA-256 in this namespace', (v) => parseNamespace(v))
    .option('--uuid-map <file>', 'uuid scheme: JSON registry keeping UUIDs stable between builds')
    .addOption(new Option('--quiet', 'print nothing but errors'))
    .option('--json', 'print a JSON summary on stdout')
    .option('--manifest <file>', 'write one JSON line per inode (path, nid, type, mode, owner, size, layout, stored bytes, fingerprint)')
    .option('--tar [mode]', 'SOURCE is a tar archive (plain or gzip; - for stdin); mkfs.erofs spelling --tar=f', (v) => {
      // An index image is finished only once the caller appends the tar, so build cannot seal or check it.
      if (v === 'i' || v === '0' || v === 'headerball') throw new UserError(`--tar=${v}: build makes full images; make tar index images with \`erofs-forge mkfs --tar=${v}\` (append the tar, then \`erofs-forge seal\`)`);
      if (v !== 'f') throw new UserError(`--tar=${v}: only full images (--tar=f) are supported`);
      return v;
    })
    .option('--gzip', 'with --tar: the archive is gzip-compressed (default: detected)')
    .option('--ungzip', 'same as --gzip (mkfs.erofs spelling)')
    .option('--aufs', 'with --tar: turn OCI/aufs whiteouts (.wh.NAME, .wh..wh..opq) into overlayfs ones')
    .option('--ovlfs-strip [0|1]', 'with --tar: drop overlayfs whiteouts and opaque xattrs', (v) => {
      if (v !== '0' && v !== '1') throw new UserError(`--ovlfs-strip=${v}: must be 0 or 1`);
      return v === '1';
    })
    .option('--verity', 'seal the image: append a dm-verity hash tree (format 1, as veritysetup format) after it'))
    .addHelpText('after', `
Examples:
  erofs-forge build -T0 -Uclear out.img rootfs/      reproducible image of rootfs/
  SOURCE_DATE_EPOCH=1700000000 erofs-forge build out.img rootfs/
  erofs-forge build -b 4096 --all-root --exclude-regex '\\.git' out.img src/
  erofs-forge build --tar -T0 -Uclear out.img rootfs.tar.gz     from an archive (gzip detected)
  erofs-forge build --tar --aufs layer.img - < layer.tar.gz     an OCI layer from stdin
  erofs-forge build -T0 -Uclear --verity --root-hash-file out.roothash out.img rootfs/   sealed, reproducible`)
    .action(async (image: string, source: string, r: RawBuildOpts) => {
      const over: Partial<BuildOptions> = {};
      if (r.b) over.blockSize = r.b;
      if (r.T !== undefined) over.timestamp = r.T;
      if (r.mkfsTime && r.allTime) throw new UserError('--all-time and --mkfs-time exclude each other');
      over.timeMode = r.mkfsTime ? 'mkfs' : 'all';
      const sde = process.env.SOURCE_DATE_EPOCH;
      if (sde !== undefined && sde !== '') over.sourceDateEpoch = parseEpoch(sde, 'SOURCE_DATE_EPOCH');
      if (r.ignoreMtime && r.preserveMtime) throw new UserError('--ignore-mtime and --preserve-mtime exclude each other');
      over.ignoreMtime = !!r.ignoreMtime;
      over.uuid = r.U ?? parseUuid('random');
      if (r.L !== undefined) {
        over.label = Buffer.from(r.L);
        if (over.label.length > 16) throw new UserError(`-L ${r.L}: label longer than 16 bytes`);
      }
      over.allRoot = !!r.allRoot;
      if (r.forceUid !== undefined) over.forceUid = r.forceUid;
      if (r.forceGid !== undefined) over.forceGid = r.forceGid;
      if (r.workers !== undefined) over.workers = r.workers;
      if (r.cache !== undefined) {
        try {
          fs.mkdirSync(r.cache, { recursive: true });
        } catch (e) {
          throw new UserError(`--cache ${r.cache}: cannot create: ${(e as Error).message}`);
        }
        over.cacheDir = path.resolve(r.cache);
      }
      const z: Partial<CompressionOptions> = {};
      const chunk: { indexes?: boolean } = {};
      const frag: { on?: boolean; all?: boolean; dedupe?: 'full' | 'inode' | 'off'; packed?: number } = {};
      applyExtended(r.E ?? [], over, z, chunk, frag);
      if (frag.on && !r.z) throw new UserError('-E fragments needs -z (a compressor)');
      if (r.chunksize !== undefined) {
        const bits = Math.log2(r.chunksize);
        if (!Number.isInteger(bits)) throw new UserError(`--chunksize ${r.chunksize}: must be a power of two`);
        over.chunks = { chunkbits: bits, indexes: !!chunk.indexes, dedupe: true };
      } else if (chunk.indexes !== undefined) {
        throw new UserError('-E force-chunk-indexes / force-inode-blockmap need --chunksize');
      }
      if (r.z?.length === 0) throw new UserError('-z: no algorithm');
      if (r.compressHints !== undefined && !r.z) throw new UserError('--compress-hints needs -z (a compressor)');
      if (r.z) {
        over.compression = {
          codec: r.z[0], pclusterSize: r.C ?? over.blockSize ?? 4096,
          ztailpacking: !!z.ztailpacking, dedupe: !!z.dedupe, legacyIndexes: !!z.legacyIndexes,
        };
        if (r.z.length > 1) over.compression.alternatives = r.z.slice(1);
        if (r.compressHints !== undefined) {
          let text: string;
          try {
            text = fs.readFileSync(r.compressHints, 'latin1');
          } catch (e) {
            throw new UserError(`--compress-hints ${r.compressHints}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          }
          const warn = r.quiet ? () => {} : (m: string) => process.stderr.write(`erofs-forge: warning: ${m}\n`);
          over.compression.hints = parseCompressHints(text, r.compressHints, over.blockSize ?? 4096, r.z.length, warn).hints;
        }
        if (frag.on) {
          over.compression.fragments = { all: !!frag.all, dedupe: frag.dedupe ?? 'full', packedPclusterSize: frag.packed ?? over.compression.pclusterSize };
        }
      } else if (r.C !== undefined) {
        throw new UserError('-C needs -z (a compressor)');
      }
      if (r.x !== undefined) over.xattrTolerance = r.x;
      over.xattrPrefixes = (r.xattrPrefix ?? []).map((p) => Buffer.from(p));
      over.warn = r.quiet ? () => {} : (m) => process.stderr.write(`erofs-forge: warning: ${m}\n`);
      let uuidMap: { file: string; map: UuidMap } | undefined;
      const fpWanted = r.xattrInodeDigest !== undefined || r.fingerprint !== undefined || r.vendorNamespace || r.uuidMap;
      if (fpWanted) {
        const scheme: Scheme = r.fingerprint ?? (r.vendorNamespace || r.uuidMap ? 'uuid' : 'sha256');
        if ((r.vendorNamespace || r.uuidMap) && scheme !== 'uuid') throw new UserError(`--vendor-namespace and --uuid-map need --fingerprint uuid`);
        const name = typeof r.xattrInodeDigest === 'string' && r.xattrInodeDigest ? r.xattrInodeDigest : DEFAULT_FINGERPRINT_NAME;
        over.fingerprint = { name: Buffer.from(name), scheme, vendorNamespace: r.vendorNamespace };
        if (r.uuidMap) {
          const ns = r.vendorNamespace;
          uuidMap = { file: r.uuidMap, map: loadUuidMap(r.uuidMap, { missingOk: true }) };
          const map = uuidMap.map;
          // A new or changed file gets the namespace's UUIDv5 when one is given, else a fresh UUIDv7.
          over.fingerprint.assignUuid = (path, size, sha) =>
            assignUuid(map, path, size, sha, ns ? () => vendorUuid(ns, sha) : undefined);
        }
      }
      const bar = r.quiet || r.json ? undefined : progressLine(process.stderr);
      if (bar) over.progress = bar.update;
      const o = defaultBuildOptions(over);
      if (!r.tar && (r.gzip || r.ungzip || r.aufs || r.ovlfsStrip !== undefined)) throw new UserError('--gzip, --aufs and --ovlfs-strip need --tar');
      if (!r.tar && source === '-') throw new UserError('SOURCE "-" (stdin) is a tar archive: add --tar (erofs-forge build --tar IMAGE -)');
      if (r.tar && (r.excludePath?.length || r.excludeRegex?.length)) throw new UserError('--exclude-path and --exclude-regex apply to directory sources, not --tar');
      // The signing key is loaded and checked before anything is built.
      const seal = await sealRequest(r, true);
      let res: Awaited<ReturnType<typeof buildImage>>;
      let sealed: SealedImage | undefined;
      const v = seal ? await import('../verity/image.js') : undefined;
      const staged = v ? new v.StagedFiles() : undefined;
      try {
        res = await buildImage(image, r.tar
          ? { tar: source, tarOptions: { gzip: r.gzip || r.ungzip ? true : 'auto', aufs: !!r.aufs, ovlfsStrip: !!r.ovlfsStrip } }
          : { dir: source, excludePaths: r.excludePath, excludeRegexes: r.excludeRegex }, o,
          seal && v && staged ? async ({ fd, bytes, leaves }) => { sealed = await v.sealOpenImage(fd, bytes, o.blockSize, image, seal.req, seal.outs, staged, leaves); } : undefined);
        staged?.commit();
      } catch (e) {
        staged?.abort();
        throw e;
      } finally {
        bar?.done();
      }
      const fsverity = r.fsverityDigest || (r.json && seal) ? (await import('../verity/image.js')).fileFsverityDigest(res.image) : undefined;
      if (r.manifest) {
        const { ErofsImage } = await import('../read/image.js');
        const { writeManifest } = await import('../read/manifest.js');
        const img = ErofsImage.open(res.image);
        try {
          writeManifest(img, r.manifest);
        } finally {
          img.close();
        }
      }
      // The map is rewritten (atomically) only once the image exists.
      if (uuidMap) saveUuidMap(uuidMap.file, uuidMap.map);
      if (r.json) {
        process.stdout.write(JSON.stringify({
          schema: 'erofs-forge/build/1', image: res.image, bytes: res.imageBytes, blocks: res.blocks,
          blockSize: o.blockSize, inodes: res.inodes, rootNid: res.rootNid, dataBytes: res.dataBytes, seconds: res.seconds,
          compressedFiles: res.compressedFiles, ...(res.cache ? { cache: res.cache } : {}),
          ...(sealed && seal ? { verity: sealJson(sealed, seal.outs) } : {}), ...(fsverity ? { fsverityDigest: fsverity } : {}),
        }) + '\n');
      } else if (!r.quiet) {
        process.stdout.write(`${res.image}: ${res.inodes} inodes, ${res.blocks} blocks of ${o.blockSize} B `
          + `(${res.imageBytes} bytes), ${res.dataBytes} bytes of file data, ${res.seconds.toFixed(2)} s`
          + (res.cache ? `; cache: ${res.cache.hit} segments reused (${res.cache.indexed} by unchanged stat), ${res.cache.absent} new, ${res.cache.damaged} damaged and rebuilt` : '') + '\n');
        if (sealed) process.stdout.write(sealLine(res.image, sealed, fsverity));
        else if (fsverity) process.stdout.write(`${res.image}: fs-verity digest ${fsverity}\n`);
      }
    })));
}
