// --cache: where flat files' bytes lie in the old image (old-image.ts), by stat identity. A flat file
// (too small to compress, or stored flat because compression saves nothing) has the source's bytes
// whatever the options, so its record is its stat identity ("dev:ino:size:mtimeNs:ctimeNs", the stat
// index's trust rule: same stat, same bytes) and three numbers: the byte address of its blocks, the
// bytes in them, and the byte address of the rest (its tail, inline after its inode or in a block of
// its own; 0 when none).
//
// Kept apart from the stat index (DIR/flats): no path and no JSON, so that ~10,000 small files cost
// a rebuild one read, one split and one Map, not 10,000 index rows parsed and written again (in the
// stat index they were +40 ms of the writer's start and +67 ms of its save on the bench corpus, more
// than the copies they spared it). The file names the stat index token its addresses go with (the
// image recorded with that token, old-image.ts); another token, and it is not used.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

const FILE = 'flats';
const MAGIC = 'EFFLATS1';
/** magic, token (16 hex digits), record count, stat identities' length in bytes: 8 + 16 + 4 + 4. */
const HEAD = 32;

/** A flat file's bytes in an image: `part` bytes at `blockAt`, then the rest at `tailAt`. */
export interface FlatPlace {
  blockAt: number;
  part: number;
  tailAt: number;
}

export class FlatIndex {
  /** Record number by stat identity, and three numbers per record (FlatPlace). */
  private readonly loaded: Map<string, number>;
  private readonly places: Float64Array;
  /** What this build placed, by stat identity. */
  private readonly fresh = new Map<string, FlatPlace>();
  private same: boolean;

  private constructor(loaded: Map<string, number>, places: Float64Array) {
    this.loaded = loaded;
    this.places = places;
    this.same = true;
  }

  /** DIR/flats, if written with stat index token `token` (undefined or '': none used). */
  static load(dir: string, token: string | undefined): FlatIndex {
    const empty = new FlatIndex(new Map(), new Float64Array(0));
    if (!token) return empty;
    let b: Buffer;
    try {
      b = fs.readFileSync(path.join(dir, FILE));
    } catch {
      return empty;
    }
    if (b.length < HEAD || b.toString('latin1', 0, 8) !== MAGIC || b.toString('latin1', 8, 24) !== token) return empty;
    const n = b.readUInt32LE(24);
    const idLen = b.readUInt32LE(28);
    const at = HEAD + idLen + ((8 - ((HEAD + idLen) % 8)) % 8);
    if (b.length !== at + 24 * n) return empty;
    const ids = n ? b.toString('latin1', HEAD, HEAD + idLen).split('\n') : [];
    if (ids.length !== n) return empty;
    // Copied out of the file's buffer: a Float64Array must start at a multiple of 8.
    const places = new Float64Array(b.buffer.slice(b.byteOffset + at, b.byteOffset + at + 24 * n));
    const loaded = new Map<string, number>();
    for (let i = 0; i < n; i++) loaded.set(ids[i], i);
    return new FlatIndex(loaded, places);
  }

  /** Where the file with stat identity `stat` lies in the old image, if known. */
  get(stat: string): FlatPlace | undefined {
    const i = this.loaded.get(stat);
    if (i === undefined) return undefined;
    const p = this.places;
    return { blockAt: p[3 * i], part: p[3 * i + 1], tailAt: p[3 * i + 2] };
  }

  /** This build placed the file with stat identity `stat` (recordable: not racy) at `at` in its image. */
  set(stat: string, at: FlatPlace): void {
    this.fresh.set(stat, at);
    if (this.same) {
      const i = this.loaded.get(stat);
      const p = this.places;
      if (i === undefined || p[3 * i] !== at.blockAt || p[3 * i + 1] !== at.part || p[3 * i + 2] !== at.tailAt) this.same = false;
    }
  }

  /** Whether this build's records differ from those loaded (then saved under a new token). */
  get changed(): boolean {
    return !this.same || this.fresh.size !== this.loaded.size;
  }

  /**
   * Write this build's records under stat index token `token` (16 hex digits, temp file + rename);
   * with no token (the index could not be written), or when it cannot be written, the file is removed: never
   * addresses under a token they are not for.
   */
  save(dir: string, token: string): void {
    const file = path.join(dir, FILE);
    if (token.length !== 16) {
      forget(file);
      return;
    }
    const ids = Buffer.from([...this.fresh.keys()].join('\n'), 'latin1');
    const n = this.fresh.size;
    const at = HEAD + ids.length + ((8 - ((HEAD + ids.length) % 8)) % 8);
    const b = Buffer.alloc(at + 24 * n);
    b.write(MAGIC, 0, 'latin1');
    b.write(token, 8, 'latin1');
    b.writeUInt32LE(n, 24);
    b.writeUInt32LE(ids.length, 28);
    ids.copy(b, HEAD);
    const places = new Float64Array(b.buffer, b.byteOffset + at, 3 * n);
    let i = 0;
    for (const p of this.fresh.values()) {
      places[i++] = p.blockAt;
      places[i++] = p.part;
      places[i++] = p.tailAt;
    }
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      fs.writeFileSync(tmp, b, { flag: 'wx', mode: 0o644 });
      fs.renameSync(tmp, file);
    } catch {
      try { fs.unlinkSync(tmp); } catch { /* not created */ }
      forget(file);
    }
  }
}

function forget(file: string): void {
  try { fs.unlinkSync(file); } catch { /* none */ }
}
