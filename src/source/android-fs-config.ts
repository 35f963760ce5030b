// Android's canned fs_config (mkfs.erofs --fs-config-file), as AOSP libcutils canned_fs_config
// reads it (facts from its source): one entry a line, "PATH UID GID MODE [capabilities=N]";
// PATH without its leading '/', or quoted ('...' / "...") when it holds spaces; a line starting
// with a space is the root; MODE octal; UID/GID as atoi reads them; capabilities base 0
// (0x..). When a path has several entries the last one wins. A path with no entry is fatal.
import * as fs from 'node:fs';
import { UserError } from '../errors.js';

export interface FsConfigEntry {
  uid: number;
  gid: number;
  /** Permission bits (and setuid/setgid/sticky); the file type stays the source's. */
  mode: number;
  capabilities: bigint;
}

export type FsConfig = Map<string, FsConfigEntry>;

function atoi(v: string): number {
  const m = /^\s*([+-]?\d+)/.exec(v);
  return m ? Number(m[1]) | 0 : 0;
}

/** C strtoll(v, NULL, 0): the leading number, 0 when there is none. */
function strtoll0(v: string): bigint {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)/.exec(v);
  if (!m) return 0n;
  const body = m[2];
  const n = /^0[xX]/.test(body) ? BigInt(body) : body.length > 1 && body[0] === '0' ? BigInt('0o' + body.slice(1)) : BigInt(body);
  return m[1] === '-' ? -n : n;
}

export function parseFsConfig(text: string, file: string): FsConfig {
  const map: FsConfig = new Map();
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    let line = raw;
    if (line.startsWith(' ')) line = '/' + line;
    let name: string;
    let rest: string;
    const q = line.search(/['"]/);
    if (q >= 0) {
      const end = line.slice(q + 1).search(/['"]/);
      if (end < 0) throw new UserError(`${file}:${i + 1}: ill-formed fs_config line (unclosed quote)`);
      // The quotes stay part of the name, as libcutils keeps them.
      name = line.slice(q, q + end + 2);
      rest = line.slice(0, q) + line.slice(q + end + 2);
    } else {
      const start = line.search(/[^ ]/);
      if (start < 0) throw new UserError(`${file}:${i + 1}: ill-formed fs_config line (no path)`);
      let end = line.indexOf(' ', start);
      if (end < 0) end = line.length;
      name = line.slice(start, end);
      rest = line.slice(0, start) + line.slice(end + 1);
    }
    const tokens = rest.split(' ').filter(Boolean);
    if (tokens.length < 3) throw new UserError(`${file}:${i + 1}: ill-formed fs_config line (needs PATH UID GID MODE)`);
    let capabilities = 0n;
    for (const t of tokens.slice(3)) {
      if (t.startsWith('capabilities=')) {
        capabilities = BigInt.asUintN(64, strtoll0(t.slice('capabilities='.length)));
        break;
      }
      // libcutils ignores other tokens (e.g. selabel=...): labels come from --file-contexts.
    }
    const mode = Number.parseInt(tokens[2], 8);
    map.set(name.startsWith('/') ? name.slice(1) : name, {
      uid: atoi(tokens[0]) >>> 0, gid: atoi(tokens[1]) >>> 0, mode: Number.isNaN(mode) ? 0 : mode & 0o7777, capabilities,
    });
  });
  return map;
}

export function loadFsConfig(file: string): FsConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (e) {
    throw new UserError(`failed to load fs config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseFsConfig(text, file);
}

/**
 * The key mkfs.erofs looks up for a file (lib/inode.c erofs_droid_inode_fsconfig): its path
 * relative to the source, behind the mount point ("system/bin/sh" for --mount-point system);
 * the root is "" (the mount point dropped). A leading '/' is dropped as libcutils does.
 */
export function fsConfigKey(relPath: string, mountPoint: string | undefined): string {
  const k = mountPoint === undefined || relPath === '' ? relPath : `${mountPoint}/${relPath}`;
  return k.startsWith('/') ? k.slice(1) : k;
}

/** security.capability as the kernel stores it: vfs_cap_data revision 2, effective, permitted = caps. */
export function capabilityXattr(caps: bigint): Buffer {
  const VFS_CAP_REVISION_2 = 0x02000000;
  const VFS_CAP_FLAGS_EFFECTIVE = 0x000001;
  const b = Buffer.alloc(20);
  b.writeUInt32LE(VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, 0);
  b.writeUInt32LE(Number(caps & 0xffffffffn), 4);
  b.writeUInt32LE(0, 8);
  b.writeUInt32LE(Number((caps >> 32n) & 0xffffffffn), 12);
  b.writeUInt32LE(0, 16);
  return b;
}
