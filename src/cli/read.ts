// Reading commands: inspect, ls, cat, extract.
import { Command } from 'commander';
import { ErofsImage, type InodeInfo } from '../read/image.js';
import { superblockSummary, modeString } from '../read/describe.js';
import { runExtract, type ExtractCliOptions } from './extract-cmd.js';
import { showPath } from '../show-path.js';

function withImage<T>(file: string, fn: (img: ErofsImage) => T): T {
  const img = ErofsImage.open(file);
  try {
    return fn(img);
  } finally {
    img.close();
  }
}

/** "YYYY-MM-DD HH:MM:SS" (UTC); times outside Date's range (±275,760 years; i_mtime is 64-bit) as "@seconds". */
export function lsTime(sec: bigint): string {
  const d = new Date(Number(sec) * 1000);
  if (Number.isNaN(d.getTime())) return `@${sec}`;
  return d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
}

function lsLine(img: ErofsImage, ino: InodeInfo, name: Buffer, long: boolean): string {
  const shown = showPath(name);
  if (!long) return shown;
  const size = ino.kind === 'chr' || ino.kind === 'blk' ? `${ino.rdev.major}, ${ino.rdev.minor}` : String(ino.size);
  const t = lsTime(ino.mtimeSec);
  const link = ino.kind === 'lnk' ? ` -> ${showPath(img.readlink(ino))}` : '';
  return `${modeString(ino.mode)} ${String(ino.nlink).padStart(3)} ${String(ino.uid).padStart(5)} ${String(ino.gid).padStart(5)} ${size.padStart(10)} ${t} ${shown}${link}`;
}

export function readCommands(): Command[] {
  const inspect = new Command('inspect')
    .description('print the superblock and features of an image')
    .argument('<IMAGE>')
    .option('--json', 'print JSON')
    .option('--fsverity-digest', 'also the fs-verity digest of the whole image file (reads all of it; as `fsverity digest`)')
    .option('--dump', 'print every on-disk structure with its byte offset and decoded fields')
    .action(async (file: string, o: { json?: boolean; fsverityDigest?: boolean; dump?: boolean }) => {
      if (o.dump) {
        if (o.json || o.fsverityDigest) throw new (await import('../errors.js')).UserError('inspect: --dump goes alone (not with --json or --fsverity-digest)');
        const { dumpImage } = await import('../read/dump.js');
        process.stdout.write(withImage(file, (img) => dumpImage(img)).join('\n') + '\n');
        return;
      }
      const s = withImage(file, (img) => superblockSummary(img.sb, img.length));
      // The dm-verity superblock after the filesystem, when the image is sealed.
      const v = await import('../verity/image.js');
      const seal = v.probeSeal(file);
      const verity = seal && (seal.superblock ? v.superblockJson(seal.hashOffset, seal.superblock) : { hashOffset: seal.hashOffset, error: seal.error! });
      const fsverity = o.fsverityDigest ? v.fileFsverityDigest(file) : undefined;
      if (o.json) {
        process.stdout.write(JSON.stringify({
          schema: 'erofs-forge/inspect/1', image: file, superblock: s, ...(verity ? { verity } : {}), ...(fsverity ? { fsverityDigest: fsverity } : {}),
        }) + '\n');
        return;
      }
      const lines = Object.entries(s).map(([k, val]) => `${k.padEnd(20)} ${Array.isArray(val) ? val.join(' ') : val}`);
      if (verity) lines.push(...Object.entries(verity).map(([k, val]) => `${('verity.' + k).padEnd(20)} ${val}`));
      if (fsverity) lines.push(`${'fsverityDigest'.padEnd(20)} ${fsverity}`);
      process.stdout.write(lines.join('\n') + '\n');
    });

  const ls = new Command('ls')
    .description('list a directory of an image')
    .argument('<IMAGE>')
    .argument('[PATH]', 'directory or file inside the image', '/')
    .option('-l', 'long listing')
    .option('-R', 'recursive')
    .option('--json', 'print JSON')
    .action((file: string, p: string, o: { l?: boolean; R?: boolean; json?: boolean }) => {
      withImage(file, (img) => {
        const start = img.lookup(p);
        const rows: { path: Buffer; ino: InodeInfo }[] = [];
        if (o.R) {
          const prefix = Buffer.from(p.replace(/^\/+|\/+$/g, ''));
          if (start.nid === img.rootNid) {
            img.walk((rel, ino) => { if (rel.length) rows.push({ path: rel, ino }); });
          } else {
            // Walk from the root, keep what lies under PATH.
            img.walk((rel, ino) => {
              if (rel.length > prefix.length && rel.subarray(0, prefix.length).equals(prefix) && rel[prefix.length] === 0x2f) {
                rows.push({ path: rel.subarray(prefix.length + 1), ino });
              }
            });
          }
        } else if (start.kind === 'dir') {
          for (const e of img.readdir(start)) {
            if (e.name.length <= 2 && e.name.every((c) => c === 0x2e)) continue;
            rows.push({ path: Buffer.from(e.name), ino: img.inode(e.nid) });
          }
        } else {
          rows.push({ path: Buffer.from(p.split('/').pop() ?? p), ino: start });
        }
        if (o.json) {
          process.stdout.write(JSON.stringify({
            schema: 'erofs-forge/ls/1', image: file,
            entries: rows.map(({ path, ino }) => ({
              path: showPath(path), nid: ino.nid, type: ino.kind, mode: ino.mode & 0o7777, uid: ino.uid, gid: ino.gid,
              size: ino.size, nlink: ino.nlink, mtime: ino.mtimeSec.toString(), mtimeNsec: ino.mtimeNsec,
              ...(ino.kind === 'lnk' ? { target: showPath(img.readlink(ino)) } : {}),
            })),
          }) + '\n');
          return;
        }
        process.stdout.write(rows.map(({ path, ino }) => lsLine(img, ino, path, !!o.l) + '\n').join(''));
      });
    });

  const cat = new Command('cat')
    .description("write a file's bytes to stdout")
    .argument('<IMAGE>')
    .argument('<PATH>')
    .action(async (file: string, p: string) => {
      const img = ErofsImage.open(file);
      try {
        const ino = img.lookup(p);
        if (ino.kind !== 'reg' && ino.kind !== 'lnk') throw new (await import('../errors.js')).UserError(`${p}: not a regular file`);
        for (const chunk of img.data(ino)) {
          if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
        }
      } finally {
        img.close();
      }
    });

  const ex = new Command('extract')
    .description('extract the whole image into an empty directory')
    .argument('<IMAGE>')
    .argument('<DIR>')
    .option('--no-owners', 'do not restore owners (default: restore when root)')
    .option('--no-xattrs', 'do not restore xattrs')
    .option('--quiet', 'print nothing but errors')
    .action((file: string, dir: string, o: ExtractCliOptions) => runExtract(file, dir, o));
  inspect.addHelpText('after', `
Examples:
  erofs-forge inspect out.img           block size, features, root nid, UUID, label
  erofs-forge inspect --json out.img    the same as one JSON document (schema erofs-forge/inspect/1)
  erofs-forge inspect --fsverity-digest out.img   plus the fs-verity digest composefs and bootc pin
  erofs-forge inspect --dump out.img    every structure (superblock, inodes, xattrs, dirents, data) at its offset`);
  ls.addHelpText('after', `
Examples:
  erofs-forge ls out.img                names in the root directory
  erofs-forge ls -lR out.img /etc       modes, owners, sizes, times, link targets, recursively
  erofs-forge ls --json -R out.img      every entry as JSON (schema erofs-forge/ls/1)`);
  cat.addHelpText('after', `
Examples:
  erofs-forge cat out.img /etc/os-release
  erofs-forge cat out.img usr/lib/libfoo.so.1 | sha256sum`);
  ex.addHelpText('after', `
Examples:
  erofs-forge extract out.img restored/              as root: owners too
  erofs-forge extract --no-owners out.img restored/  as a normal user`);
  return [inspect, ls, cat, ex];
}
