// --cache DIR keeps, besides its entries, a stat index (DIR/index), as git's index and make do: for
// each source file, by path and options, its identity and change times as lstat reported them
// ("dev:ino:size:mtimeNs:ctimeNs") and the entries of its segments (plus its fingerprint digests).
// A rebuild that finds a file with the same stat neither reads nor hashes it; its entries are fetched
// by key and, as every entry, checked before use: in full (its SHA-256), or, when the index also
// holds the identity its entry file had when a build last verified it, by that identity (see
// cacheGet: the pclusters are then copied into the image in the kernel, unread).
//
// Trust model (git's): a file whose stat is unchanged has unchanged bytes. ctime cannot be set by
// users, so a write that puts size and mtime back is still seen. A stat is recorded only when its
// ctime is older than the build's start by RACY_MARGIN_NS: a file written in the same timestamp
// tick as it was read could otherwise keep its stat with other bytes ("racily clean" in git).
// The same rule holds for an entry file's identity.
//
// The index is one file: a magic line, the SHA-256 of the body, the body (JSON). A damaged index is
// ignored as a whole (every file then takes the content-keyed path) and replaced at the end of the
// build. It is written to a temp file and renamed, after merging what another build may have written
// meanwhile: every entry either writer keeps is correct on its own, so the last writer may win.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { CACHE_FORMAT } from './cache.js';
// A stat is recorded only when its ctime is RACY_MARGIN_NS older than the build start (see above).
import { RACY_MARGIN_NS } from '../files/source-reader.js';

/** EFINDEX2: rows carry the entry files' identities. An index of another version is started afresh. */
const MAGIC = 'EFINDEX2';
const FILE = 'index';
/** Entries of files this build did not see are kept up to this many (or as many as it saw), newest first. */
const KEEP_UNSEEN_MIN = 10_000;

export type DigestAlgo = 'sha256' | 'blake3';

/** A file's record, as stored: keys and lengths stay joined by "," until a lookup needs them. */
export interface Rec {
  /** "dev:ino:size:mtimeNs:ctimeNs" at the scan. */
  stat: string;
  keys: string;
  bytes: string;
  /** The entries' file identities when verified ("dev:ino:size:mtimeNs:ctimeNs", '' unknown), joined by ",". */
  ids: string;
  sha256: string;
  blake3: string;
  /**
   * A one-segment file's entry layout (cache.ts headString), kept with its identity in `ids` only:
   * a build that finds the entry still with that identity lays the file out from this and copies
   * its pclusters without a fetch. '' unknown.
   */
  heads: string;
  /**
   * A one-segment file's layout in the image the build that wrote the index made (cache.ts
   * imageHead: where its pclusters lie there), valid with the index's image token only (old-image.ts).
   * '' unknown.
   */
  img: string;
  /** When a build last wrote it (ms since the epoch), for trimming. */
  used: number;
}

export interface IndexEntry {
  /** Entry keys (hex) and lengths of the file's segments, in order. */
  keys: string[];
  bytes: number[];
  /** Each entry file's identity when a build last verified it (cacheGet's `trusted`), or undefined. */
  ids: (string | undefined)[];
  /** Digests of the whole file's bytes, hex, by algorithm (those computed so far). */
  digests: Partial<Record<DigestAlgo, string>>;
}

/** JSON row: path, options index, stat, keys and lengths joined by ",", sha256, blake3, used, entry identities joined by ",", heads, img (both absent in older indexes). */
type Row = [string, number, string, string, string, string, string, number, string, string?, string?];

interface Body {
  format: string;
  options: string[];
  files: Row[];
  /** The token of the image whose addresses the rows' `img` give (old-image.ts); absent: none. */
  image?: string;
}

/** By options key, then path (latin1 string of its bytes). */
type Recs = Map<string, Map<string, Rec>>;

/** The options key: everything besides a segment's bytes that its entry depends on. */
export function optionsKey(params: unknown): string {
  return createHash('sha256').update(CACHE_FORMAT).update('\0').update(JSON.stringify(params)).digest('hex');
}

export class CacheIndex {
  private readonly loaded: Recs;
  private readonly fresh: Recs = new Map();
  /** Files this build looked up, by options key: their old records are stale unless recorded again. */
  private readonly seen = new Map<string, Set<string>>();
  /** Whether DIR/index was present but failed its checks (it is then ignored). */
  readonly damaged: boolean;
  /** Build start minus RACY_MARGIN_NS, in ns, as a decimal string (see notRacy). */
  private readonly racyBefore: string;
  private changed = false;

  /** The image token of the index as loaded ('' none): its records' `img` are addresses in that image. */
  readonly imageToken: string;
  /** Where this build placed files' pclusters (imageHead strings), by options key and path. */
  private readonly placedImg = new Map<string, Map<string, string>>();
  /** The image token the index on disk has after save() ('' none, or not saved). */
  savedToken = '';

  private constructor(private readonly dir: string, loaded: { recs: Recs; id: string; image: string } | 'damaged' | undefined) {
    this.damaged = loaded === 'damaged';
    this.imageToken = loaded && loaded !== 'damaged' ? loaded.image : '';
    this.loaded = loaded && loaded !== 'damaged' ? loaded.recs : new Map();
    this.loadedId = loaded && loaded !== 'damaged' ? loaded.id : '';
    // Nothing to drop or replace in an index that was missing or damaged: it is written anyway.
    this.changed = !loaded || loaded === 'damaged';
    this.racyBefore = String(BigInt(this.now) * 1_000_000n - RACY_MARGIN_NS);
  }

  /** Identity of the index file as loaded, to tell whether another build replaced it since. */
  private readonly loadedId: string;

  /** Load DIR/index once, at the start of a build (before any source file is read). */
  static load(dir: string): CacheIndex {
    return new CacheIndex(dir, readIndex(path.join(dir, FILE)));
  }

  /** The entry of a file whose stat is unchanged, else undefined. */
  lookup(opts: string, file: string, stat: string): IndexEntry | undefined {
    let seen = this.seen.get(opts);
    if (!seen) this.seen.set(opts, (seen = new Set()));
    seen.add(file);
    const r = this.loaded.get(opts)?.get(file);
    if (!r || r.stat !== stat) return undefined;
    const digests: IndexEntry['digests'] = {};
    if (r.sha256) digests.sha256 = r.sha256;
    if (r.blake3) digests.blake3 = r.blake3;
    // Most files are one segment: no lists to split.
    if (!r.keys.includes(',')) {
      if (r.bytes.includes(',') || r.ids.includes(',')) return undefined;
      return { keys: [r.keys], bytes: [Number(r.bytes)], ids: r.ids ? [r.ids] : [], digests };
    }
    const keys = r.keys.split(',');
    const bytes = r.bytes.split(',').map(Number);
    const ids = r.ids ? r.ids.split(',').map((x) => x || undefined) : [];
    return keys.length === bytes.length ? { keys, bytes, ids, digests } : undefined;
  }

  /**
   * The record of a file of one segment whose stat is unchanged and whose entry's layout and
   * identity are kept (Rec.heads), else undefined. Nothing is noted: keep() does, once it is used.
   */
  peekHead(opts: string, file: string, stat: string): Readonly<Rec> | undefined {
    const r = this.loaded.get(opts)?.get(file);
    return r && r.stat === stat && r.heads && r.ids ? r : undefined;
  }

  /**
   * The record of a file of one segment whose stat is unchanged and whose layout in the old image is
   * kept (Rec.img), else undefined. Nothing is noted: keep() does, once it is used.
   */
  peekImage(opts: string, file: string, stat: string): Readonly<Rec> | undefined {
    const r = this.loaded.get(opts)?.get(file);
    return r && r.stat === stat && r.img ? r : undefined;
  }

  /** The writer placed the file's pclusters in this build's image as `head` says (cache.ts imageHead). */
  placed(opts: string, file: string, head: string): void {
    let m = this.placedImg.get(opts);
    if (!m) this.placedImg.set(opts, (m = new Map()));
    m.set(file, head);
  }

  /**
   * A record from peekHead, kept as loaded (the file and its entry unchanged). Its stat and entry
   * identity passed the racy checks when recorded, against an earlier build start: they pass now.
   */
  keep(opts: string, file: string, r: Readonly<Rec>): void {
    let m = this.fresh.get(opts);
    if (!m) this.fresh.set(opts, (m = new Map()));
    (r as Rec).used = this.now;
    m.set(file, r as Rec);
  }

  /** Remember the entries a file's segments have now (its bytes were read under this stat, or the index vouches for them). */
  record(opts: string, file: string, stat: string, keys: string[], bytes: number[], digests: Partial<Record<DigestAlgo, string>>, ids: (string | undefined)[] = [], head?: string): void {
    if (!this.notRacy(stat)) return;
    const old = this.loaded.get(opts)?.get(file);
    let m = this.fresh.get(opts);
    if (!m) this.fresh.set(opts, (m = new Map()));
    // An unchanged file of one segment (most of a rebuild): its record as loaded, with no lists
    // joined or compared as strings (the join, the racy checks and a new record per file cost
    // ~25 ms of the main thread on the bench corpus's 6,522 indexed files).
    if (old && keys.length === 1 && old.stat === stat && old.keys === keys[0] && old.bytes === String(bytes[0])
      && old.ids === (ids[0] && this.notRacy(ids[0]) ? ids[0] : '') && old.heads === (old.ids && head ? head : '')
      && (digests.sha256 ?? old.sha256) === old.sha256 && (digests.blake3 ?? old.blake3) === old.blake3) {
      old.used = this.now;
      m.set(file, old);
      return;
    }
    const k = keys.join(',');
    const b = bytes.join(',');
    // An entry identity seen in the racy window is not kept: the next build verifies that entry in full.
    const i = ids.some((x) => x && this.notRacy(x)) ? keys.map((_, n) => (ids[n] && this.notRacy(ids[n]!) ? ids[n] : '')).join(',') : '';
    // Digests of other algorithms carry over when the bytes are the same ones.
    const same = !!old && old.stat === stat && old.keys === k;
    // A head only beside the one entry's identity (it is trusted through that identity).
    const heads = keys.length === 1 && i && head ? head : '';
    const r: Rec = {
      stat, keys: k, bytes: b, ids: i, sha256: digests.sha256 ?? (same ? old.sha256 : ''), blake3: digests.blake3 ?? (same ? old.blake3 : ''), heads, img: old?.img ?? '', used: this.now,
    };
    if (!same || old.bytes !== b || old.ids !== i || old.heads !== heads || old.sha256 !== r.sha256 || old.blake3 !== r.blake3) this.changed = true;
    m.set(file, r);
  }

  /**
   * record() for a file of one segment, without its lists: an unchanged file's record is carried
   * over as loaded (most of a rebuild), without an array or a join per file.
   */
  recordOne(opts: string, file: string, stat: string, key: string, bytes: number, digests: Partial<Record<DigestAlgo, string>>, id: string | undefined, head?: string): void {
    const old = this.loaded.get(opts)?.get(file);
    if (old && old.stat === stat && old.keys === key && old.bytes === String(bytes) && this.notRacy(stat)
      && old.ids === (id && this.notRacy(id) ? id : '') && old.heads === (old.ids && head ? head : '')
      && (digests.sha256 ?? old.sha256) === old.sha256 && (digests.blake3 ?? old.blake3) === old.blake3) {
      let m = this.fresh.get(opts);
      if (!m) this.fresh.set(opts, (m = new Map()));
      old.used = this.now;
      m.set(file, old);
      return;
    }
    this.record(opts, file, stat, [key], [bytes], digests, id === undefined ? [] : [id], head);
  }

  /**
   * The image this build writes has addresses the index does not give (flat-index.ts learned them):
   * saved under a new token, even with no record of its own changed.
   */
  touch(): void {
    this.changed = true;
  }

  /** A stat ("...:ctimeNs") that may be recorded: its ctime older than the build's start by the margin (see notRacy). */
  trustsStat(stat: string): boolean {
    return this.notRacy(stat);
  }

  /** The build's start in ms since the epoch: when each record it writes was last used. */
  private readonly now = Date.now();

  /**
   * ctime ("...:ctimeNs", a decimal integer as BigInt prints it: no leading zeros) older than the
   * build start by the margin: any later write gets a different ctime. Compared as digit strings
   * (a BigInt per call cost more than the rest of record()).
   */
  private notRacy(stat: string): boolean {
    const c = stat.slice(stat.lastIndexOf(':') + 1);
    // Before the epoch: older than any build start.
    if (c.charCodeAt(0) === 45 /* '-' */) return true;
    const t = this.racyBefore;
    return c.length !== t.length ? c.length < t.length : c < t;
  }

  /**
   * Write the index (temp file + rename), merged with the one on disk now; skipped when this build
   * learned nothing new (every file it saw recorded as it was, at the same image address). Failures
   * only cost speed. Sets savedToken: the image token the index now has, under which the records
   * give this build's image addresses ('' when it could not be written).
   */
  save(): void {
    const file = path.join(this.dir, FILE);
    // Records this build saw but did not write again (changed files, racy stats) are dropped.
    for (const [opts, seen] of this.seen) {
      const fresh = this.fresh.get(opts);
      for (const f of seen) if (!fresh?.has(f) && this.loaded.get(opts)?.has(f)) { this.changed = true; break; }
    }
    // Each record this build keeps gets the address of its file in this build's image (or none).
    for (const [opts, m] of this.fresh) {
      const placed = this.placedImg.get(opts);
      for (const [f, r] of m) {
        const img = placed?.get(f) ?? '';
        if (r.img !== img) {
          r.img = img;
          this.changed = true;
        }
      }
    }
    // Records kept unseen lose their addresses (they are not in this build's image).
    if (!this.changed && this.imageToken) {
      outer: for (const [opts, m] of this.loaded) {
        const fresh = this.fresh.get(opts);
        for (const [f, r] of m) if (r.img && !fresh?.has(f)) { this.changed = true; break outer; }
      }
    }
    const now = fileId(file);
    if (!this.changed && now === this.loadedId) {
      // Every address in the index is where this build put the file: the token holds for its image.
      this.savedToken = this.imageToken;
      return;
    }
    const token = randomBytes(8).toString('hex');
    // Another build may have written the index since: merge with its version.
    const disk = now === this.loadedId ? undefined : readIndex(file);
    const others = disk && disk !== 'damaged' ? disk.recs : this.loaded;
    const rest: [string, string, Rec][] = [];
    let freshCount = 0;
    for (const m of this.fresh.values()) freshCount += m.size;
    for (const [opts, m] of others) {
      const fresh = this.fresh.get(opts);
      const seen = this.seen.get(opts);
      for (const [f, r] of m) if (!fresh?.has(f) && !seen?.has(f)) rest.push([opts, f, r]);
    }
    rest.sort((a, b) => b[2].used - a[2].used);
    const all: [string, string, Rec][] = [];
    const fresh = new Set<Rec>();
    for (const [opts, m] of this.fresh) for (const [f, r] of m) { all.push([opts, f, r]); fresh.add(r); }
    all.push(...rest.slice(0, Math.max(KEEP_UNSEEN_MIN, freshCount)));
    const options: string[] = [];
    const optIndex = new Map<string, number>();
    const files: Row[] = all.map(([o, f, r]) => {
      let oi = optIndex.get(o);
      if (oi === undefined) { optIndex.set(o, (oi = options.length)); options.push(o); }
      // An address only for this build's records (those of other builds or files are another image's).
      const img = fresh.has(r) ? r.img : '';
      return img ? [f, oi, r.stat, r.keys, r.bytes, r.sha256, r.blake3, r.used, r.ids, r.heads, img]
        : r.heads ? [f, oi, r.stat, r.keys, r.bytes, r.sha256, r.blake3, r.used, r.ids, r.heads] : [f, oi, r.stat, r.keys, r.bytes, r.sha256, r.blake3, r.used, r.ids];
    });
    const body = Buffer.from(JSON.stringify({ format: CACHE_FORMAT, options, files, image: token } satisfies Body));
    const head = Buffer.from(`${MAGIC}\n${createHash('sha256').update(body).digest('hex')}\n`);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      fs.writeFileSync(tmp, Buffer.concat([head, body]), { flag: 'wx', mode: 0o644 });
      fs.renameSync(tmp, file);
      this.savedToken = token;
    } catch {
      try { fs.unlinkSync(tmp); } catch { /* not created */ }
    }
  }
}

function fileId(file: string): string {
  try {
    const st = fs.statSync(file, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return '';
  }
}

function readIndex(file: string): { recs: Recs; id: string; image: string } | 'damaged' | undefined {
  let b: Buffer;
  let id: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      id = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      b = Buffer.allocUnsafe(Number(st.size));
      let got = 0;
      for (let n; got < b.length && (n = fs.readSync(fd, b, got, b.length - got, got)) > 0;) got += n;
      if (got !== b.length) return 'damaged';
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  try {
    // An index of another version (EFINDEX1: no entry identities): as if there were none.
    if (b.length >= MAGIC.length && b.toString('latin1', 0, 7) === MAGIC.slice(0, 7) && b.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
    const headLen = MAGIC.length + 1 + 64 + 1;
    const sum = b.toString('latin1', MAGIC.length + 1, MAGIC.length + 65);
    if (b.length < headLen || b.toString('latin1', 0, headLen) !== `${MAGIC}\n${sum}\n`) return 'damaged';
    if (createHash('sha256').update(b.subarray(headLen)).digest('hex') !== sum) return 'damaged';
    const body = JSON.parse(b.toString('utf8', headLen)) as Body;
    // Another format: its entries would all miss; start afresh.
    if (body.format !== CACHE_FORMAT) return undefined;
    const recs: Recs = new Map();
    const byOpt = body.options.map((o) => { const m = new Map<string, Rec>(); recs.set(o, m); return m; });
    // Indexed, not destructured: array destructuring runs the iterator protocol per row (without
    // TurboFan, as a --cache build runs, ~5 ms of 6,500 rows).
    const files = body.files;
    for (let n = 0; n < files.length; n++) {
      const row = files[n];
      const f = row[0], stat = row[2], keys = row[3], bytes = row[4], sha256 = row[5], blake3 = row[6], used = row[7], ids = row[8], heads = row[9], img = row[10];
      const m = byOpt[row[1]];
      if (!m || typeof stat !== 'string' || typeof keys !== 'string' || typeof bytes !== 'string' || typeof ids !== 'string' || (heads !== undefined && typeof heads !== 'string')
        || (img !== undefined && typeof img !== 'string')) return 'damaged';
      m.set(f, { stat, keys, bytes, ids, sha256, blake3, heads: heads ?? '', img: img ?? '', used });
    }
    return { recs, id, image: typeof body.image === 'string' ? body.image : '' };
  } catch {
    return 'damaged';
  }
}
