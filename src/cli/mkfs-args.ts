// mkfs.erofs 1.9.3's command line (mkfs/main.c, read for facts): its option table, its value
// parsers (strtoul with base prefixes, k/m/g suffixes, atoi for -d), its -E list. Everything it
// accepts is either carried into MkfsArgs, or refused with one line naming it: never ignored.
import { UserError } from '../errors.js';
import { parseCompressor, type CodecSpec } from '../compress/codec.js';
import { DEFLATE_MAX_LEVEL } from '../compress/deflate.js';
import { getoptLong, type LongOption } from './getopt.js';
import { parseUuid } from './parse.js';

/** mkfs.erofs's optstring. */
export const MKFS_SHORTS = 'C:E:L:T:U:b:d:m:x:z:Vh';

/**
 * The long options of a default 1.9.3 build (zlib, liblzma and multithreading on; no libselinux,
 * no WITH_ANDROID, no S3/OCI), plus the Android ones we implement (--file-contexts,
 * --fs-config-file, --product-out) and AOSP's --block-list-file. Names matter beyond their own
 * spelling: getopt_long takes any unique prefix, so "--so=none" is --sort.
 */
export const MKFS_LONGS: readonly LongOption[] = [
  ['version', 'none', 'V'], ['help', 'none', 'h'],
  ['exclude-path', 'required'], ['exclude-regex', 'required'], ['file-contexts', 'required'],
  ['force-uid', 'required'], ['force-gid', 'required'], ['all-root', 'none'],
  ['max-extent-bytes', 'required'], ['compress-hints', 'required'], ['chunksize', 'required'],
  ['quiet', 'none'], ['blobdev', 'required'], ['ignore-mtime', 'none'], ['preserve-mtime', 'none'],
  ['uid-offset', 'required'], ['gid-offset', 'required'], ['tar', 'optional'], ['aufs', 'none'],
  ['mount-point', 'required'], ['product-out', 'required'], ['fs-config-file', 'required'],
  ['block-list-file', 'required'],
  ['ovlfs-strip', 'optional'], ['offset', 'required'],
  ['gzip', 'none', 'ungzip'], ['ungzip', 'optional'], ['gzinfo', 'optional'],
  ['unlzma', 'optional', 'unxz'], ['unxz', 'optional'],
  ['workers', 'required'], ['zfeature-bits', 'required'], ['clean', 'optional'], ['incremental', 'optional'],
  ['root-xattr-isize', 'required'], ['mkfs-time', 'none'], ['all-time', 'none'], ['sort', 'required'],
  ['hard-dereference', 'none'], ['dsunit', 'required'], ['async-queue-limit', 'required'],
  ['fsalignblks', 'required'], ['vmdk-desc', 'required'], ['zD', 'optional'], ['MZ', 'optional'],
  ['xattr-prefix', 'required'], ['xattr-inode-digest', 'optional'],
].map(([name, has, key]) => ({ name, has: has as LongOption['has'], key: key ?? name }));

/** Everything a mkfs.erofs line asks for, in the terms the build understands. */
export interface MkfsArgs {
  action: 'build' | 'help' | 'version';
  image: string;
  /** Directory, or with --tar the archive ('-' = stdin). */
  source: string;
  tar: boolean;
  /** --tar=i (or 0): a tar index image; --tar=headerball: an index of a headers-only stream. */
  tarIndex?: 'tar' | 'headerball';
  blockSize: number;
  /** -d: 0..9, 2 = warnings (default); --quiet = errors only. */
  debug: number;
  quiet: boolean;
  xattrTolerance?: number;
  codec?: CodecSpec;
  /** -zA:B...: the algorithms after the first, for --compress-hints (index 1 on). */
  alternatives: CodecSpec[];
  /** --compress-hints FILE. */
  compressHints?: string;
  pclusterSize?: number;
  label?: string;
  timestamp?: bigint;
  /** --mkfs-time / --all-time as given last (undefined: -T means all files). */
  timeMode?: 'all' | 'mkfs';
  /** undefined: random. */
  uuid?: Uint8Array;
  excludePaths: string[];
  excludeRegexes: RegExp[];
  fixedUid?: number;
  fixedGid?: number;
  uidOffset: number;
  gidOffset: number;
  ignoreMtime: boolean;
  aufs: boolean;
  ovlfsStrip: boolean;
  gzip: boolean;
  workers?: number;
  /** --sort=none: tar data in stream order (see mkfs.ts). */
  sortNone: boolean;
  hardDereference: boolean;
  xattrPrefixes: string[];
  xattrInodeDigest?: string;
  fileContexts?: string;
  mountPoint?: string;
  productOut?: string;
  fsConfigFile?: string;
  blockListFile?: string;
  inodeVersion?: 'compact' | 'extended';
  inlineData: boolean;
  xattrNameFilter: boolean;
  ztailpacking: boolean;
  dedupe: boolean;
  legacyCompress: boolean;
  /** --max-extent-bytes (negative: unaligned extents, which need the 48-bit layout). */
  maxExtentBytes?: number;
  /** --dsunit: align every file's data to multiples of this many blocks (0 and 1: no alignment). */
  dsunit: number;
  /** --chunksize: log2 of the chunk size. */
  chunkbits?: number;
  /** -E force-chunk-indexes (true) / force-inode-blockmap (false): the chunk map form, last one wins. */
  chunkIndexes: boolean;
  /** -E ^dedupe: chunks are not deduplicated (nor all-zero chunks made holes). */
  dedupeOff: boolean;
  /** -E fragments[=SIZE]: file tails (small files whole) in the packed inode. */
  fragments: boolean;
  /** -E all-fragments: whole files in the packed inode (with fragments on). */
  allFragments: boolean;
  /** -E fragdedupe[=inode|full], ^fragdedupe. */
  fragdedupe: 'full' | 'inode' | 'off';
  /** -E fragments=SIZE / all-fragments=SIZE: the packed inode's pcluster size in bytes. */
  packedPclusterSize?: number;
}

/** A refused line: mkfs.erofs's wording where it has one. Exit status 1, as mkfs.erofs. */
export class MkfsRefusal extends UserError {}

function refuse(msg: string): never {
  throw new MkfsRefusal(msg);
}

/** mkfs.erofs 1.9.3's DEFLATE levels: both encoders default to 1; libdeflate takes 0..12, its own
 *  encoder (kite_deflate) 1..9. */
const MKFS_DEFLATE_DEFAULT_LEVEL = 1;
const LIBDEFLATE_MAX_LEVEL = 12;

/**
 * A -z value as mkfs.erofs names it. "libdeflate" is mkfs.erofs's second DEFLATE encoder (same
 * on-disk algorithm): written by our DEFLATE encoder one level up (below), 9..12 at our highest, 9.
 * Levels mkfs.erofs refuses are refused.
 */
function parseMkfsCompressor(v: string): CodecSpec {
  const [name, ...opts] = v.split(',');
  if (name !== 'libdeflate' && name !== 'deflate') return parseCompressor(v);
  const spec = parseCompressor(['deflate', ...opts].join(','));
  if (spec.level === undefined) spec.level = MKFS_DEFLATE_DEFAULT_LEVEL;
  if (name === 'libdeflate') {
    if (spec.level > LIBDEFLATE_MAX_LEVEL) refuse(`invalid compression level ${spec.level}`);
    // One level up: libdeflate's level L packs like our L+1 (usr/lib/git-core of a /usr copy, 4 KiB
    // pclusters: libdeflate,1 13,639,680 B, ours at 1 and 2 13,438,976 / 13,291,520; libdeflate,6
    // 12,914,688, ours at 6 and 7 12,918,784 / 12,910,592). Its levels 10..12 (near-optimal parsing)
    // stay up to 2% smaller than our highest.
    if (spec.level > 0) spec.level = Math.min(spec.level + 1, DEFLATE_MAX_LEVEL);
  } else if (spec.level === 0) {
    // mkfs.erofs 1.9.3: "failed to initialize compression" (its deflate encoder has no stored-only level)
    refuse(`invalid compression level 0 for deflate (1..${DEFLATE_MAX_LEVEL})`);
  }
  return spec;
}

function notImplemented(what: string, why = 'not implemented by erofs-forge'): never {
  refuse(`${what}: ${why}`);
}

/**
 * C's strtoull/strtol with base 0 ("0x1f", "017", "42"), and mkfs's k/m/g suffix when `suffix`:
 * the number and what follows it. No digits at all leaves the whole string (C: endptr = nptr), so
 * an empty string is 0 with nothing left, as mkfs.erofs reads it.
 */
export function cNumber(s: string, suffix = false): { n: bigint; rest: string } {
  let i = 0;
  while (i < s.length && ' \t\n\v\f\r'.includes(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') neg = s[i++] === '-';
  let base = 10;
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && /[0-9a-fA-F]/.test(s[i + 2] ?? '')) {
    base = 16;
    i += 2;
  } else if (s[i] === '0') {
    base = 8;
  }
  const digit = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  const start = i;
  while (i < s.length && digit.test(s[i])) i++;
  if (i === start) return { n: 0n, rest: s };
  let n = BigInt((base === 16 ? '0x' : base === 8 ? '0o' : '') + s.slice(start, i));
  if (neg) n = -n;
  if (suffix) {
    const m = { k: 10n, K: 10n, m: 20n, M: 20n, g: 30n, G: 30n }[s[i] as 'k'];
    if (m !== undefined) {
      n <<= m;
      i++;
    }
  }
  return { n, rest: s.slice(i) };
}

/** A whole C number or a refusal with mkfs.erofs's message. */
function whole(v: string, msg: string, opts: { suffix?: boolean; min?: bigint; max?: bigint } = {}): bigint {
  const { n, rest } = cNumber(v, opts.suffix);
  if (rest !== '' || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) refuse(`${msg} ${v}`);
  return n;
}

/** C atoi: leading blanks, a sign, decimal digits; anything else ends it (garbage is 0). */
function atoi(v: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(v);
  return m ? Number(m[1]) : 0;
}

const U32 = 0xffffffffn;

/** The -E features mkfs.erofs also toggles with --zfeature-bits, in bit order. */
const ZFEATURES = ['legacy-compress', 'ztailpacking', 'fragments', 'all-fragments', 'dedupe', 'fragdedupe', '48bit', 'dot-omitted'];

function setZFeature(a: MkfsArgs, name: string, on: boolean, value: string | undefined, spelled: string): void {
  const noValue = () => { if (value !== undefined) refuse(`invalid extended option ${spelled}`); };
  switch (name) {
    case 'legacy-compress': noValue(); a.legacyCompress = on; return;
    case 'ztailpacking': noValue(); a.ztailpacking = on; return;
    case 'dedupe': noValue(); a.dedupe = on; a.dedupeOff = !on; return;
    // They only act on compressed files (without -z mkfs.erofs 1.9.3 writes the same bytes as without them).
    case 'all-fragments': case 'fragments':
      if (name === 'all-fragments') a.allFragments = on;
      if (!on) {
        noValue();
        a.fragments = false;
        return;
      }
      if (value !== undefined) {
        const { n, rest } = cNumber(value, true);
        if (rest !== '' || value === '') refuse(`invalid pcluster size ${value} for the packed file`);
        if (n > 0n) a.packedPclusterSize = Number(n);
      }
      a.fragments = true;
      return;
    case 'fragdedupe':
      if (!on) {
        noValue();
        a.fragdedupe = 'off';
      } else {
        a.fragdedupe = value === 'inode' ? 'inode' : 'full';
      }
      return;
    case '48bit': case 'dot-omitted':
      noValue();
      if (on) notImplemented(`-E ${name}`, 'the 48-bit layout is not implemented by erofs-forge');
      return;
  }
}

/** -E a,^b,c=v (mkfs.erofs parse_extended_opts). */
function applyExtended(a: MkfsArgs, list: string): void {
  for (const raw of list.split(',')) {
    if (raw === '') continue;
    const eq = raw.indexOf('=');
    let key = eq < 0 ? raw : raw.slice(0, eq);
    const value = eq < 0 ? undefined : raw.slice(eq + 1);
    if (value === '') refuse(`invalid extended option ${raw}`);
    const clear = key.startsWith('^');
    if (clear) {
      if (key.length < 2) refuse(`invalid extended option ${raw}`);
      key = key.slice(1);
    }
    const noValue = () => { if (value !== undefined) refuse(`invalid extended option ${raw}`); };
    switch (key) {
      // mkfs.erofs sets these whatever the "^": -E^force-inode-compact still forces compact inodes.
      case 'force-inode-compact': noValue(); a.inodeVersion = 'compact'; a.ignoreMtime = true; break;
      case 'force-inode-extended': noValue(); a.inodeVersion = 'extended'; break;
      case 'noinline_data': noValue(); a.inlineData = false; break;
      case 'inline_data': noValue(); a.inlineData = !clear; break;
      case 'xattr-name-filter': noValue(); a.xattrNameFilter = !clear; break;
      // Long prefixes are always written as plain superblock-area records by erofs-forge.
      case 'plain-xattr-prefixes': noValue(); break;
      // Chunk formats only shape chunk-based files; without --chunksize they change nothing.
      // mkfs.erofs sets these whatever the "^", the last one wins.
      case 'force-inode-blockmap': noValue(); a.chunkIndexes = false; break;
      case 'force-chunk-indexes': noValue(); a.chunkIndexes = true; break;
      case 'nosbcrc': notImplemented('-E nosbcrc', 'images without a superblock checksum are not implemented by erofs-forge');
      default:
        if (!ZFEATURES.includes(key)) refuse(`unknown extended option ${raw}`);
        setZFeature(a, key, !clear, value, raw);
    }
  }
}

/**
 * Parse a mkfs.erofs argument vector (without the program name). Throws MkfsRefusal (one line)
 * for anything mkfs.erofs 1.9.3 refuses and for what erofs-forge does not implement.
 */
export function parseMkfsArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): MkfsArgs {
  const a: MkfsArgs = {
    action: 'build', image: '', source: '', tar: false, blockSize: 4096, debug: 2, quiet: false,
    excludePaths: [], excludeRegexes: [], uidOffset: 0, gidOffset: 0, ignoreMtime: false, aufs: false,
    ovlfsStrip: false, gzip: false, sortNone: false, hardDereference: false, xattrPrefixes: [],
    inlineData: true, xattrNameFilter: true, ztailpacking: false, dedupe: false, legacyCompress: false,
    chunkIndexes: false, dedupeOff: false, fragments: false, allFragments: false, fragdedupe: 'full',
    alternatives: [], dsunit: 0,
  };
  let pcluster: bigint | undefined;
  const { items, operands } = getoptLong(argv, MKFS_SHORTS, MKFS_LONGS, env);
  for (const it of items) {
    if ('error' in it) refuse(it.error);
    const v = it.value;
    const s = it.spelled;
    switch (it.key) {
      // mkfs.erofs acts on -V and -h where it meets them, before looking at what follows.
      case 'V': a.action = 'version'; return a;
      case 'h': a.action = 'help'; return a;
      case 'z': {
        // mkfs.erofs keeps at most EROFS_MAX_COMPR_CFGS (64) configurations.
        const algs = v!.split(':').filter(Boolean);
        if (algs.length > 64) refuse(`too many algorithm types`);
        if (algs.length) {
          a.codec = parseMkfsCompressor(algs[0]);
          a.alternatives = algs.slice(1).map(parseMkfsCompressor);
        }
        break;
      }
      case 'b': {
        const n = whole(v!, 'invalid block size', { suffix: true, min: 512n, max: 65536n });
        // mkfs.erofs keeps ilog2 of the value: -b 3000 is 2048-byte blocks.
        const bs = 1 << (n.toString(2).length - 1);
        if (bs > 4096) notImplemented(`-b ${v}`, 'erofs-forge writes blocks of 512 to 4096 bytes');
        a.blockSize = bs;
        break;
      }
      case 'd': {
        const n = atoi(v!);
        if (n < 0 || n > 9) refuse(`invalid debug level ${n}`);
        a.debug = n;
        break;
      }
      case 'x': a.xattrTolerance = Number(whole(v!, 'invalid xattr tolerance')); break;
      case 'E': applyExtended(a, v!); break;
      case 'L':
        // 16-byte field, NUL-terminated by mkfs.erofs: 15 bytes at most.
        if (Buffer.byteLength(v!) > 15) refuse('invalid volume label');
        a.label = v;
        break;
      case 'T': {
        const { n, rest } = cNumber(v!);
        if (rest !== '' || n < 0n || n >= 0xffffffffffffffffn) refuse(`invalid UNIX timestamp ${v}`);
        a.timestamp = n;
        break;
      }
      case 'U':
        if (v === 'random') a.uuid = undefined;
        else {
          try {
            a.uuid = parseUuid(v!);
          } catch {
            refuse(`invalid UUID ${v}`);
          }
        }
        break;
      case 'C': pcluster = whole(v!, 'invalid physical clustersize', { suffix: true, min: 1n, max: 0x7fffffffn }); break;
      case 'm': notImplemented(`-m ${v}`, 'metadata compression is not implemented by erofs-forge');
      case 'exclude-path': a.excludePaths.push(v!); break;
      case 'exclude-regex':
        try {
          a.excludeRegexes.push(new RegExp(v!));
        } catch (e) {
          refuse(`failed to parse exclude regex: ${v}: ${(e as Error).message}`);
        }
        break;
      case 'file-contexts': a.fileContexts = v; break;
      case 'force-uid': a.fixedUid = Number(whole(v!, 'invalid uid', { min: 0n, max: U32 - 1n })); break;
      case 'force-gid': a.fixedGid = Number(whole(v!, 'invalid gid', { min: 0n, max: U32 - 1n })); break;
      case 'all-root': a.fixedUid = 0; a.fixedGid = 0; break;
      case 'max-extent-bytes':
        a.maxExtentBytes = Number(whole(v!, 'invalid maximum compressed extent size', { suffix: true, min: -0x80000000n, max: 0x7fffffffn }));
        break;
      case 'compress-hints': a.compressHints = v; break;
      case 'chunksize': {
        // mkfs.erofs: strtol(base 0) of the whole value, then ilog2 must give it back.
        const { n, rest } = cNumber(v!);
        if (rest !== '') refuse(`invalid chunksize ${v}`);
        const bits = n > 0n ? n.toString(2).length - 1 : -1;
        if (bits < 0 || bits > 31 || 1n << BigInt(bits) !== n) refuse(`chunksize ${v} must be a power of two`);
        a.chunkbits = bits;
        break;
      }
      case 'blobdev': notImplemented(s, 'blob devices (with --chunksize) are not implemented by erofs-forge');
      case 'quiet': a.quiet = true; break;
      case 'ignore-mtime': a.ignoreMtime = true; break;
      case 'preserve-mtime': a.ignoreMtime = false; break;
      case 'uid-offset': a.uidOffset = Number(whole(v!, 'invalid uid offset', { min: 0n, max: U32 })); break;
      case 'gid-offset': a.gidOffset = Number(whole(v!, 'invalid gid offset', { min: 0n, max: U32 })); break;
      case 'tar': {
        a.tar = true;
        const [mode, map] = (v ?? '').split(/,(.*)/s);
        if (map) notImplemented(`--tar=${v}`, 'tar block map files are not implemented by erofs-forge');
        // mkfs.erofs: "i" or "0" = index only, "headerball" = headers without data; anything else is a full image.
        a.tarIndex = mode === 'i' || mode === '0' ? 'tar' : mode === 'headerball' ? 'headerball' : undefined;
        break;
      }
      case 'aufs': a.aufs = true; break;
      case 'mount-point': a.mountPoint = v!.endsWith('/') ? v!.slice(0, -1) : v; break;
      case 'product-out': a.productOut = v; break;
      case 'fs-config-file': a.fsConfigFile = v; break;
      case 'block-list-file': a.blockListFile = v; break;
      case 'ovlfs-strip': a.ovlfsStrip = v === undefined || v === '1'; break;
      case 'offset':
        if (whole(v!, 'invalid disk offset') !== 0n) notImplemented(s, 'writing at an offset is not implemented by erofs-forge');
        break;
      case 'ungzip':
        if (v !== undefined) notImplemented(`${s}=${v}`, 'dumping the raw tar stream is not implemented by erofs-forge');
        a.gzip = true;
        break;
      case 'gzinfo': notImplemented(s, 'SOCI zinfo output is not implemented by erofs-forge');
      case 'unxz': notImplemented(s, 'xz/lzma tar streams are not implemented by erofs-forge');
      case 'workers': {
        const n = whole(v!, 'invalid worker number', { min: 0n, max: U32 });
        // Images do not depend on the worker count in erofs-forge; 0 (no threads) runs one worker.
        a.workers = Math.min(256, Math.max(1, Number(n)));
        break;
      }
      case 'zfeature-bits': {
        let bits = whole(v!, 'invalid zfeature bits');
        if (bits < 0n) refuse(`invalid zfeature bits ${v}`);
        for (let i = 0; bits; i++, bits >>= 1n) {
          if (i >= ZFEATURES.length) refuse(`unsupported zfeature bit ${i}`);
          setZFeature(a, ZFEATURES[i], (bits & 1n) === 1n, undefined, `--zfeature-bits bit ${i} (${ZFEATURES[i]})`);
        }
        break;
      }
      case 'clean':
        if (v !== undefined && v !== 'data') notImplemented(`${s}=${v}`, 'only full clean builds (--clean=data) are implemented by erofs-forge');
        break;
      case 'incremental': notImplemented(s, 'incremental builds are not implemented by erofs-forge');
      case 'root-xattr-isize':
        if (whole(v!, 'invalid the minimum inline xattr size') !== 0n) notImplemented(s, 'reserving root xattr space is not implemented by erofs-forge');
        break;
      case 'mkfs-time': a.timeMode = 'mkfs'; break;
      case 'all-time': a.timeMode = 'all'; break;
      // mkfs.erofs: "none" keeps tar data in stream order; any other value is the default, path order.
      case 'sort': a.sortNone = v === 'none'; break;
      case 'hard-dereference': a.hardDereference = true; break;
      case 'dsunit': a.dsunit = Number(whole(v!, 'invalid dsunit', { min: 0n, max: U32 })); break;
      // The size of mkfs.erofs's ordered job queue: no bearing on the image.
      case 'async-queue-limit': whole(v!, 'invalid async-queue-limit', { min: 0n, max: U32 }); break;
      case 'fsalignblks':
        if (whole(v!, 'invalid fsalignblks', { min: 0n, max: U32 }) > 1n) notImplemented(`${s}=${v}`, 'device size alignment is not implemented by erofs-forge');
        break;
      case 'vmdk-desc': notImplemented(s, 'VMDK descriptors are not implemented by erofs-forge');
      // mkfs.erofs 1.9.3 compresses directories unless the value is exactly "1".
      case 'zD': if (v !== '1') notImplemented(v === undefined ? s : `${s}=${v}`, 'directory compression is not implemented by erofs-forge'); break;
      case 'MZ': if (v !== '0') notImplemented(v === undefined ? s : `${s}=${v}`, 'a metadata zone is not implemented by erofs-forge'); break;
      case 'xattr-prefix': a.xattrPrefixes.push(v!); break;
      case 'xattr-inode-digest': a.xattrInodeDigest = v ?? 'erofs.fingerprint.v1'; break;
      default: refuse(`${s}: unhandled option`);
    }
  }

  if (operands.length < 1) refuse('missing argument: FILE');
  a.image = operands[0];
  if (operands.length >= 2) a.source = operands[1];
  else if (a.tar) a.source = '-';
  else refuse('missing argument: SOURCE(s)');
  if (operands.length > 2) refuse(`unexpected argument: ${operands[2]}`);

  // mkfs.erofs 1.9.3 enforces 512-byte blocks for a tar index (the tar's), whatever -b said.
  if (a.tarIndex === 'tar') a.blockSize = 512;
  if (a.tarIndex) {
    // mkfs.erofs 1.9.3 takes these and still leaves the data uncompressed and unchunked in the tar
    // (-z only sets compression feature bits): refused rather than written differently.
    const mode = a.tarIndex === 'tar' ? 'i' : 'headerball';
    if (a.codec) notImplemented(`-z with --tar=${mode}`, 'file data stays in the tar, uncompressed');
    if (a.chunkbits !== undefined || a.dedupe) notImplemented(`${a.dedupe ? '-E dedupe' : '--chunksize'} with --tar=${mode}`, 'file data stays in the tar, one chunk per file');
    if (a.xattrInodeDigest !== undefined) notImplemented(`--xattr-inode-digest with --tar=${mode}`, 'file data is not read');
  }
  const packed = a.packedPclusterSize;
  if (packed !== undefined && (packed < a.blockSize || packed % a.blockSize)) refuse(`invalid pcluster size for the packed file ${packed}`);
  if (a.chunkbits !== undefined && 2 ** a.chunkbits < a.blockSize) refuse(`chunksize ${2 ** a.chunkbits} must be larger than block size`);
  if (pcluster !== undefined) {
    if (pcluster < BigInt(a.blockSize) || pcluster % BigInt(a.blockSize)) refuse(`invalid physical clustersize ${pcluster}`);
    a.pclusterSize = Number(pcluster);
  }
  if (a.codec && a.fragments && packed !== undefined && packed > (a.pclusterSize ?? a.blockSize)) {
    refuse(`pcluster size (${packed / a.blockSize} blocks) for packed inode exceeds maximum`);
  }
  return a;
}
