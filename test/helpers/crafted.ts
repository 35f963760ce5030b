// Images whose files carry arbitrary fingerprint values (uuid, blake3, forged, malformed), built by
// mkfs.erofs 1.9.3: each value goes into the source xattr `user.fp`, mkfs is told `--xattr-prefix=user.fp`
// so the entry is stored under that long prefix with an empty suffix (exactly how a fingerprint is
// stored), then the superblock is switched to ishare with that prefix (compat ISHARE_XATTRS, id 0).
import { linkSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runOk } from './tools.js';
import { editSuperblock } from './tamper.js';
import { FEATURE_COMPAT_ISHARE_XATTRS } from '../../src/format/constants.js';

export type CraftedFiles = Record<string, [content: string | Buffer, value: Buffer | null]>;

export function craftImage(mkfs: string, setfattr: string, root: string, image: string, files: CraftedFiles,
  links: Record<string, string> = {}, mkfsFlags: string[] = []): string {
  for (const [p, [content, value]] of Object.entries(files)) {
    const f = join(root, p);
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, content);
    if (value) runOk(setfattr, ['-n', 'user.fp', '-v', `0x${value.toString('hex')}`, f]);
  }
  for (const [link, target] of Object.entries(links)) {
    mkdirSync(dirname(join(root, link)), { recursive: true });
    linkSync(join(root, target), join(root, link));
  }
  runOk(mkfs, ['--quiet', '--xattr-prefix=user.fp', ...mkfsFlags, '-T0', '-Uclear', image, root]);
  editSuperblock(image, (sb) => {
    sb.featureCompat |= FEATURE_COMPAT_ISHARE_XATTRS;
    sb.ishareXattrPrefixId = 0;
  });
  return image;
}

export const tagged = (tag: string, raw: Uint8Array): Buffer => Buffer.concat([Buffer.from(tag), raw]);
