// Option parsers shared by commands: each turns one flag's text into a value or a UserError naming it.
import { randomBytes } from 'node:crypto';
import { parse as uuidParse } from 'uuid';
import { UserError } from '../errors.js';

export function parseBlockSize(v: string): number {
  const n = Number(v);
  if (![512, 1024, 2048, 4096].includes(n)) throw new UserError(`-b ${v}: block size must be 512, 1024, 2048 or 4096`);
  return n;
}

export function parseEpoch(v: string, what: string): bigint {
  if (!/^-?\d+$/.test(v.trim())) throw new UserError(`${what} ${v}: not a whole number of seconds`);
  const n = BigInt(v.trim());
  if (n < 0n || n > 0xffffffffffffffffn) throw new UserError(`${what} ${v}: out of range`);
  return n;
}

export function parseUuid(v: string): Uint8Array {
  if (v === 'clear') return new Uint8Array(16);
  if (v === 'random') {
    const b = randomBytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    return b;
  }
  try {
    return uuidParse(v);
  } catch {
    throw new UserError(`-U ${v}: not a UUID (or "clear", "random")`);
  }
}

export function parseId(v: string, what: string): number {
  if (!/^\d+$/.test(v)) throw new UserError(`${what} ${v}: not a non-negative integer`);
  const n = Number(v);
  if (n > 0xffffffff) throw new UserError(`${what} ${v}: above 4294967295`);
  return n;
}

export function parseInteger(v: string, what: string): number {
  if (!/^-?\d+$/.test(v)) throw new UserError(`${what} ${v}: not an integer`);
  return Number(v);
}

export function parseRegex(v: string): RegExp {
  try {
    return new RegExp(v);
  } catch (e) {
    throw new UserError(`--exclude-regex ${v}: ${(e as Error).message}`);
  }
}

export function collect<T>(parse: (v: string) => T) {
  return (v: string, prev: T[] = []): T[] => [...prev, parse(v)];
}

/** -E list: "a,^b,c=1" → [[name, enabled, value]]. */
export function parseExtended(v: string): { name: string; on: boolean; value?: string }[] {
  return v.split(',').filter(Boolean).map((s) => {
    const on = !s.startsWith('^');
    const body = on ? s : s.slice(1);
    const eq = body.indexOf('=');
    return eq < 0 ? { name: body, on } : { name: body.slice(0, eq), on, value: body.slice(eq + 1) };
  });
}

/** A byte count with an optional k/m/g suffix (as mkfs.erofs accepts). */
export function parseSize(v: string, what: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(v.trim());
  if (!m) throw new UserError(`${what} ${v}: not a size`);
  const mult = { '': 1, k: 1024, m: 1 << 20, g: 1 << 30 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}
