// --cache DIR keeps, besides its entries, a stat index (DIR/index), as git's index and make do: for
// each source file, by path and options, its identity and change times as lstat reported them
// ("dev:ino:size:mtimeNs:ctimeNs") and the entries of its segments (plus its fingerprint digests).
// A rebuild that finds a file with the same stat neither reads nor hashes it; its entries are fetched
// by key and, as every entry, checked before use.
//
// Trust model (git's): a file whose stat is unchanged has unchanged bytes. ctime cannot be set by
// users, so a write that puts size and mtime back is still seen. A stat is recorded only when its
// ctime is older than the build's start by RACY_MARGIN_NS: a file written in the same timestamp
// tick as it was read could otherwise keep its stat with other bytes ("racily clean" in git).
//
// The index is one file: a magic line, the SHA-256 of the body, the body (JSON). A damaged index is
// ignored as a whole (every file then takes the content-keyed path) and replaced at the end of the
// build. It is written to a temp file and renamed, after merging what another build may have written
// meanwhile: every entry either writer keeps is correct on its own, so the last writer may win.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { CACHE_FORMAT } from './cache.js';

const MAGIC = 'EFINDEX1';
const FILE = 'index';
/** A stat is recorded only when its ctime is this much older than the build start (see above). */
const RACY_MARGIN_NS = 1_000_000_000n;
/** Entries of files this build did not see are kept up to this many (or as many as it saw), newest first. */
const KEEP_UNSEEN_MIN = 10_000;

export type DigestAlgo = 'sha256' | 'blake3';

export interface IndexEntry {
  /** "dev:ino:size:mtimeNs:ctimeNs" at the scan. */
  stat: string;
  /** Entry keys (hex) and lengths of the file's segments, in order. */
  keys: string[];
  bytes: number[];
  /** Digests of the whole file's bytes, hex, by algorithm (those computed so far). */
  digests: Partial<Record<DigestAlgo, string>>;
  /** When a build last used or recorded it (ms since the epoch), for trimming. */
  used: number;
}

/** JSON row: path, options index, stat, keys and lengths joined by ",", sha256, blake3, used. */
type Row = [string, number, string, string, string, string, string, number];

interface Body {
  format: string;
  options: string[];
  files: Row[];
}

/** The options key: everything besides a segment's bytes that its entry depends on. */
export function optionsKey(params: unknown): string {
  return createHash('sha256').update(CACHE_FORMAT).update('\0').update(JSON.stringify(params)).digest('hex');
}

export class CacheIndex {
  /** By options key + "\0" + path (latin1 string of its bytes). */
  private readonly loaded: Map<string, IndexEntry>;
  private readonly fresh = new Map<string, IndexEntry>();
  /** Files this build looked up, recorded or not: their old entries are stale if not recorded. */
  private readonly seen = new Set<string>();
  /** Whether DIR/index was present but failed its checks (it is then ignored). */
  readonly damaged: boolean;
  private readonly startNs: bigint;

  private constructor(private readonly dir: string, loaded: Map<string, IndexEntry> | 'damaged' | undefined) {
    this.damaged = loaded === 'damaged';
    this.loaded = loaded instanceof Map ? loaded : new Map();
    this.startNs = BigInt(Date.now()) * 1_000_000n;
  }

  /** Load DIR/index once, at the start of a build (before any source file is read). */
  static load(dir: string): CacheIndex {
    return new CacheIndex(dir, readIndex(path.join(dir, FILE)));
  }

  /** The entry of a file whose stat is unchanged, else undefined. */
  lookup(opts: string, file: string, stat: string): IndexEntry | undefined {
    const k = `${opts}\0${file}`;
    this.seen.add(k);
    const e = this.loaded.get(k);
    return e && e.stat === stat ? e : undefined;
  }

  /** Remember the entries a file's segments have now (its bytes were read under this stat, or the index vouched for them). */
  record(opts: string, file: string, stat: string, keys: string[], bytes: number[], digests: Partial<Record<DigestAlgo, string>>): void {
    if (!notRacy(stat, this.startNs)) return;
    const k = `${opts}\0${file}`;
    const old = this.loaded.get(k);
    // Digests of other algorithms carry over when the bytes are the same ones.
    const keep = old && old.stat === stat && old.keys.join() === keys.join() ? old.digests : {};
    this.fresh.set(k, { stat, keys, bytes, digests: { ...keep, ...digests }, used: Date.now() });
  }

  /** Write the index (temp file + rename), merged with the one on disk now. Failures only cost speed. */
  save(): void {
    const file = path.join(this.dir, FILE);
    const disk = readIndex(file);
    const others = disk instanceof Map ? disk : this.loaded;
    const rest = [...others].filter(([k]) => !this.fresh.has(k) && !this.seen.has(k)).sort((a, b) => b[1].used - a[1].used);
    const all = [...this.fresh, ...rest.slice(0, Math.max(KEEP_UNSEEN_MIN, this.fresh.size))];
    const options: string[] = [];
    const optIndex = new Map<string, number>();
    const files: Row[] = all.map(([k, e]) => {
      const cut = k.indexOf('\0');
      const o = k.slice(0, cut);
      let oi = optIndex.get(o);
      if (oi === undefined) { optIndex.set(o, (oi = options.length)); options.push(o); }
      return [k.slice(cut + 1), oi, e.stat, e.keys.join(','), e.bytes.join(','), e.digests.sha256 ?? '', e.digests.blake3 ?? '', e.used];
    });
    const body = Buffer.from(JSON.stringify({ format: CACHE_FORMAT, options, files } satisfies Body));
    const head = Buffer.from(`${MAGIC}\n${createHash('sha256').update(body).digest('hex')}\n`);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      fs.writeFileSync(tmp, Buffer.concat([head, body]), { flag: 'wx', mode: 0o644 });
      fs.renameSync(tmp, file);
    } catch {
      try { fs.unlinkSync(tmp); } catch { /* not created */ }
    }
  }
}

/** ctime older than the build start by the margin: any later write gets a different ctime. */
function notRacy(stat: string, startNs: bigint): boolean {
  const ctime = BigInt(stat.slice(stat.lastIndexOf(':') + 1));
  return ctime < startNs - RACY_MARGIN_NS;
}

function readIndex(file: string): Map<string, IndexEntry> | 'damaged' | undefined {
  let b: Buffer;
  try {
    b = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  try {
    const headLen = MAGIC.length + 1 + 64 + 1;
    if (b.length < headLen || b.toString('latin1', 0, headLen) !== `${MAGIC}\n${b.toString('latin1', MAGIC.length + 1, MAGIC.length + 65)}\n`) return 'damaged';
    if (createHash('sha256').update(b.subarray(headLen)).digest('hex') !== b.toString('latin1', MAGIC.length + 1, MAGIC.length + 65)) return 'damaged';
    const body = JSON.parse(b.toString('utf8', headLen)) as Body;
    // Another format: its entries would all miss; start afresh.
    if (body.format !== CACHE_FORMAT) return undefined;
    const m = new Map<string, IndexEntry>();
    for (const [file, oi, stat, keys, bytes, sha256, blake3, used] of body.files) {
      const ks = keys.split(',');
      const bs = bytes.split(',').map(Number);
      const digests: IndexEntry['digests'] = {};
      if (sha256) digests.sha256 = sha256;
      if (blake3) digests.blake3 = blake3;
      if (ks.length !== bs.length || !body.options[oi]) return 'damaged';
      m.set(`${body.options[oi]}\0${file}`, { stat, keys: ks, bytes: bs, digests, used });
    }
    return m;
  } catch {
    return 'damaged';
  }
}
