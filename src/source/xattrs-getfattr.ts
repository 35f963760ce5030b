// Reading source xattrs. Node has no xattr API, so one `getfattr -R` process dumps every xattr
// of the tree (in the C locale, names octal-escaped) and we parse that: one process, not one per file.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { UserError } from '../errors.js';
import type { Xattr } from './tree.js';

/** Undo getfattr's quoting: \ooo octal escapes and \\ for a backslash. */
export function unescapeGetfattr(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c && i + 1 < s.length) {
      if (s[i + 1] === '\\') { out.push(0x5c); i++; continue; }
      const oct = s.slice(i + 1, i + 4);
      if (/^[0-7]{3}$/.test(oct)) { out.push(parseInt(oct, 8)); i += 3; continue; }
    }
    out.push(c & 0xff);
  }
  return Buffer.from(out);
}

function parseValue(v: string): Buffer {
  if (v.startsWith('0x')) return Buffer.from(v.slice(2), 'hex');
  if (v.startsWith('0s')) return Buffer.from(v.slice(2), 'base64');
  if (v.startsWith('"') && v.endsWith('"')) return unescapeGetfattr(v.slice(1, -1));
  return Buffer.from(v, 'latin1');
}

/**
 * Every xattr under `root` (root included), keyed by absolute path bytes (latin1 string of the bytes).
 * Symlinks are not followed; `result` rejects with a UserError naming getfattr when it is missing.
 * getfattr runs in the background while the caller scans the tree; `cancel` kills it (the scan failed).
 */
export function startTreeXattrs(root: string): { result: Promise<Map<string, Xattr[]>>; cancel: () => void } {
  const child = spawn('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', root], {
    env: { ...process.env, LC_ALL: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const result = collect(child);
  result.catch(() => {});
  return { result, cancel: () => { child.kill('SIGKILL'); } };
}

async function collect(child: ChildProcessByStdio<null, Readable, Readable>): Promise<Map<string, Xattr[]>> {
  const chunks: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.on('data', (c: Buffer) => { if (err.length < 4096) err += c.toString(); });
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT'
        ? new UserError('cannot read xattrs: getfattr not found (install the "attr" package, or pass -x -1 to build without xattrs)')
        : e);
    });
    child.on('close', (c) => resolve(c ?? 1));
  });
  // getfattr exits 1 when some file had an error; surface the first message.
  if (code !== 0 && err.trim()) {
    throw new UserError(`cannot read xattrs: ${err.trim().split('\n')[0]}`);
  }
  const text = Buffer.concat(chunks).toString('latin1');
  const map = new Map<string, Xattr[]>();
  let current: Xattr[] | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = [];
      map.set(unescapeGetfattr(line.slice(8)).toString('latin1'), current);
    } else if (line && current && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      const name = eq < 0 ? line : line.slice(0, eq);
      const value = eq < 0 ? Buffer.alloc(0) : parseValue(line.slice(eq + 1));
      current.push({ name: unescapeGetfattr(name), value });
    }
  }
  return map;
}
