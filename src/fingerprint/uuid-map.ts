// The vendor UUID registry (`--uuid-map FILE`, product.md): a JSON file kept between builds that
// remembers which UUID each path got, with the size and SHA-256 of the content it stood for. The
// builder keeps a path's UUID while its content is unchanged and gives a new or changed file a fresh
// UUIDv7; verify checks an image's uuid fingerprints against it. A corrupt or unreadable map is always
// an error, never silently treated as empty: resetting it would re-key every file and break sharing.
//
// File format (schema "erofs-forge/uuid-map/1"), keys sorted by their UTF-8 bytes, one entry a line:
//   {
//     "schema": "erofs-forge/uuid-map/1",
//     "files": {
//       "/etc/hostname": {"uuid": "0190f3a2-...", "size": 6, "sha256": "5891b5b5...(64 hex)"},
//       "hex:2f6e616d65ff": {...}
//     }
//   }
// A key is the path inside the image with a leading "/" when its bytes are valid UTF-8 without
// control characters, otherwise "hex:" + the hex of the path bytes (no leading "/", so never ambiguous).
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { UserError, errnoReason } from '../errors.js';

export const UUID_MAP_SCHEMA = 'erofs-forge/uuid-map/1';

export interface UuidRecord {
  /** 16 raw bytes. */
  uuid: Uint8Array;
  /** i_size of the content the UUID was given to. */
  size: number;
  /** Raw 32-byte SHA-256 of that content. */
  sha256: Uint8Array;
}

/** Path key (see uuidMapKey) → record. */
export type UuidMap = Map<string, UuidRecord>;

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHA256_TEXT = /^[0-9a-f]{64}$/;
const HEX_KEY = /^hex:(?:[0-9a-f]{2})+$/;

/** 16 bytes as 8-4-4-4-12 lowercase hex. Any 16 bytes: vendors' IDs need not carry RFC version bits. */
export function formatUuid(raw: Uint8Array): string {
  const h = Buffer.from(raw).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function parseUuidText(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/-/g, ''), 'hex'));
}

function plainUtf8(path: Uint8Array): string | null {
  const s = Buffer.from(path).toString('utf8');
  if (s.includes('\ufffd') || /[\x00-\x1f\x7f]/.test(s)) return null;
  return Buffer.from(s, 'utf8').equals(Buffer.from(path)) ? s : null;
}

/** The map key of a path inside the image ("a/b", "/a/b" and "a/b/" name the same file). */
export function uuidMapKey(path: Uint8Array): string {
  let p = Buffer.from(path);
  let start = 0;
  while (start < p.length && p[start] === 0x2f) start++;
  let end = p.length;
  while (end > start && p[end - 1] === 0x2f) end--;
  p = p.subarray(start, end);
  const s = plainUtf8(p);
  return s !== null ? `/${s}` : `hex:${p.toString('hex')}`;
}

/**
 * Read a map. A missing file is an error unless `missingOk` (a first build creates the map);
 * anything unreadable or malformed is a UserError naming the file and the offending key.
 */
export function loadUuidMap(file: string, opts: { missingOk?: boolean } = {}): UuidMap {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && opts.missingOk) return new Map();
    throw new UserError(`--uuid-map ${file}: cannot read: ${errnoReason(e)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UserError(`--uuid-map ${file}: not valid JSON (${(e as Error).message}); refusing to replace it`);
  }
  const bad = (why: string): never => {
    throw new UserError(`--uuid-map ${file}: ${why}; refusing to use or replace it`);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) bad('not a JSON object');
  const top = doc as Record<string, unknown>;
  if (top.schema !== UUID_MAP_SCHEMA) bad(`schema is ${JSON.stringify(top.schema)}, expected "${UUID_MAP_SCHEMA}"`);
  const files = top.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) bad('"files" is not an object');
  const map: UuidMap = new Map();
  for (const [key, rec] of Object.entries(files as Record<string, unknown>)) {
    const where = `entry ${JSON.stringify(key)}`;
    if (!(key.startsWith('/') || HEX_KEY.test(key))) bad(`${where}: a key is "/path" or "hex:..."`);
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) bad(`${where}: not an object`);
    const r = rec as Record<string, unknown>;
    if (typeof r.uuid !== 'string' || !UUID_TEXT.test(r.uuid)) bad(`${where}: "uuid" is not a lowercase 8-4-4-4-12 hex UUID`);
    if (typeof r.size !== 'number' || !Number.isSafeInteger(r.size) || r.size < 0) bad(`${where}: "size" is not a byte count`);
    if (typeof r.sha256 !== 'string' || !SHA256_TEXT.test(r.sha256)) bad(`${where}: "sha256" is not 64 lowercase hex digits`);
    map.set(key, {
      uuid: parseUuidText(r.uuid as string),
      size: r.size as number,
      sha256: Buffer.from(r.sha256 as string, 'hex'),
    });
  }
  return map;
}

function keyOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The file's bytes: deterministic (keys in byte order), one entry a line, so diffs stay readable. */
export function encodeUuidMap(map: UuidMap): string {
  const keys = [...map.keys()].sort(keyOrder);
  const lines = keys.map((k) => {
    const r = map.get(k)!;
    return `    ${JSON.stringify(k)}: ${JSON.stringify({ uuid: formatUuid(r.uuid), size: r.size, sha256: Buffer.from(r.sha256).toString('hex') })}`;
  });
  return `{\n  "schema": "${UUID_MAP_SCHEMA}",\n  "files": {${lines.length ? `\n${lines.join(',\n')}\n  ` : ''}}\n}\n`;
}

/**
 * Write the map atomically: a temporary file next to it, fsync, rename over the old one. A reader
 * sees either the old map or the new one, never a half-written file; on failure the temporary is removed.
 */
export function saveUuidMap(file: string, map: UuidMap): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    fs.writeSync(fd, encodeUuidMap(map));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* already failing */ }
    try { fs.unlinkSync(tmp); } catch { /* never created or already renamed */ }
    throw new UserError(`--uuid-map ${file}: cannot write: ${(e as Error).message}`);
  }
  try {
    // Make the rename itself durable; not every filesystem lets a directory be opened for this.
    const dfd = fs.openSync(dirname(file), 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  } catch { /* best effort */ }
}

/**
 * The builder's rule: a path whose size and SHA-256 are unchanged keeps its UUID; a new or changed
 * file gets a fresh UUIDv7 and the map is updated in place (save it after a successful build).
 */
export function assignUuid(map: UuidMap, path: Uint8Array, size: number, sha256: Uint8Array,
  fresh: () => Uint8Array = () => uuidv7(undefined, new Uint8Array(16))): Uint8Array {
  const key = uuidMapKey(path);
  const old = map.get(key);
  if (old && old.size === size && Buffer.from(old.sha256).equals(Buffer.from(sha256))) return old.uuid;
  const rec: UuidRecord = { uuid: fresh(), size, sha256: Uint8Array.from(sha256) };
  map.set(key, rec);
  return rec.uuid;
}
