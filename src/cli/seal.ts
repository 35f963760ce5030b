// `erofs-forge seal IMAGE`: add or recompute the dm-verity seal of an existing image.
import { Command } from 'commander';
import { sealImageFile, fileFsverityDigest } from '../verity/image.js';
import { addSealOptions, sealRequest, sealLine, sealJson, type RawVerityOpts } from './verity-options.js';

export const SEAL_SCHEMA = 'erofs-forge/seal/1';

export function sealCommand(): Command {
  return addSealOptions(new Command('seal')
    .description('append (or recompute) a dm-verity hash tree for an existing image, atomically')
    .argument('<IMAGE>', 'EROFS image (ours or mkfs.erofs\'s); everything after its filesystem is replaced')
    .option('--json', 'print a JSON summary on stdout')
    .option('--quiet', 'print nothing but errors')
    .option('--replace-tail', 'replace whatever follows the filesystem even when it is not a seal with a superblock'))
    .addHelpText('after', `
Examples:
  erofs-forge seal --root-hash-file out.roothash out.img          tree appended, salt and UUID from block 0
  erofs-forge seal --verity-hash-file out.verity out.img          tree in a separate hash file
  erofs-forge seal --verity-sign-key k.pem --verity-sign-cert c.pem --verity-signature out.verity-sig out.img`)
    .action(async (image: string, r: RawVerityOpts & { json?: boolean; quiet?: boolean; replaceTail?: boolean }) => {
      const { req, outs } = (await sealRequest(r, false))!;
      const sealed = await sealImageFile(image, req, outs, !!r.replaceTail);
      const fsverity = r.fsverityDigest || r.json ? fileFsverityDigest(image) : undefined;
      if (r.json) {
        process.stdout.write(JSON.stringify({ schema: SEAL_SCHEMA, image, imageBytes: sealed.imageBytes, fsverityDigest: fsverity, verity: sealJson(sealed, outs) }) + '\n');
      } else if (!r.quiet) {
        process.stdout.write(sealLine(image, sealed, fsverity));
      }
    });
}
