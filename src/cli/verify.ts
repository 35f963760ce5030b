// `erofs-forge verify [--json] [--vendor-namespace UUID] [--uuid-map FILE] IMAGE...`
// stdout: one line per problem, "IMAGE: /path: reason" (or "IMAGE: reason" for the image as a whole),
// or with --json one document. stderr: a progress line on a terminal and the summary (files, MB/s).
// Exit 0 clean, 1 problems found (an unreadable image is a problem), 2 usage error (bad flag, no
// image, a --vendor-namespace that is not a UUID, a --uuid-map that cannot be read or parsed).
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Command, InvalidArgumentError } from 'commander';
import { parse as uuidParse, validate as uuidValidate } from 'uuid';
import { verifyImages, type Problem, type VerifyProgress, type VerifyReport } from '../verify/verify.js';
import { loadUuidMap, type UuidMap } from '../fingerprint/uuid-map.js';
import { UserError } from '../errors.js';
import { addTreeOptions, type RawVerityOpts } from './verity-options.js';

export const VERIFY_SCHEMA = 'erofs-forge/verify/1';

function parseNamespace(v: string): Uint8Array {
  if (!uuidValidate(v)) throw new InvalidArgumentError('not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)');
  return uuidParse(v);
}

export function problemLine(p: Problem): string {
  return p.path === null ? `${p.image}: ${p.message}` : `${p.image}: ${p.path}: ${p.message}`;
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

export function summaryLine(r: VerifyReport): string {
  const rate = r.seconds > 0 ? r.bytes / 1e6 / r.seconds : 0;
  const unchecked = r.unchecked;
  // Unchecked uuid values are no problem (exit 0), but the verdict says they were not checked.
  return `verify: ${r.images.length} image${r.images.length === 1 ? '' : 's'}, ${r.files} regular files, `
    + `${r.fingerprinted} fingerprinted (${r.verified} verified${unchecked ? `, ${unchecked} uuid unchecked: no --vendor-namespace or --uuid-map` : ''}), `
    + `${mb(r.bytes)} MB decoded in ${r.seconds.toFixed(2)} s (${rate.toFixed(0)} MB/s): `
    + (r.ok ? 'OK' : `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`)
    + (unchecked ? `; ${unchecked} uuid fingerprint${unchecked === 1 ? '' : 's'} NOT checked` : '');
}

function progressPrinter(): ((p: VerifyProgress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    process.stderr.write(`\r\x1b[K[${p.imageIndex + 1}/${p.images}] ${p.image}: ${p.files} files, ${mb(p.bytes)} MB`);
  };
}

/** A root hash given as hex, or the path of a file holding it (as veritysetup --root-hash-file writes it). */
function readRootHash(v: string): Uint8Array {
  let text = v;
  if (!/^([0-9a-fA-F]{2}){16,64}$/.test(v)) {
    try {
      text = fs.readFileSync(v, 'utf8').trim();
    } catch (e) {
      throw new UserError(`--root-hash ${v}: neither hex nor a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (!/^([0-9a-fA-F]{2}){16,64}$/.test(text)) throw new UserError(`--root-hash ${v}: the file does not hold a hex root hash`);
  }
  return Buffer.from(text, 'hex');
}

export function verifyCommand(): Command {
  const cmd = new Command('verify')
    .description('check images and their fingerprints (structure, every file decoded, every fingerprint recomputed, no value on two contents)')
    .addHelpText('after', `
Examples:
  erofs-forge verify base.img app.img                      all fingerprints honest, no forged sharing
  erofs-forge verify --json base.img app.img > report.json exit 0 clean, 1 problems, 2 usage error
  erofs-forge verify --vendor-namespace 6ba7b811-9dad-11d1-80b4-00c04fd430c8 vendor.img
  erofs-forge verify --uuid-map ids/uuid-map.json vendor.img
  erofs-forge verify --root-hash out.roothash out.img      also the dm-verity seal: every block, the first bad one named
  erofs-forge verify --root-hash out.roothash --verity-signature out.sig --verity-cert cert.pem out.img`)
    .argument('<IMAGE...>', 'images to check together, as one sharing domain')
    .option('--json', 'print one JSON document on stdout')
    .option('--vendor-namespace <UUID>', 'check uuid fingerprints as UUIDv5(UUID, SHA-256 of the content)', parseNamespace)
    .option('--uuid-map <FILE>', 'check uuid fingerprints against this registry (path -> uuid, size, sha256)')
    .option('--root-hash <HEX|FILE>', 'check the dm-verity seal against this root hash (hex, or a file holding it); one IMAGE')
    .option('--verity-signature <FILE>', 'with --root-hash: check this signature JSON (systemd\'s form) ...')
    .option('--verity-cert <CERT.pem>', '... made by this certificate\'s key')
    .option('--verity-hash-offset <bytes>', 'with --root-hash: where the superblock (or tree) starts (default: after the filesystem)', (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError('not a byte offset');
      return Number(v);
    });
  addTreeOptions(cmd);
  return cmd
    .action(async function (this: Command, files: string[], o: RawVerityOpts & { json?: boolean; vendorNamespace?: Uint8Array; uuidMap?: string; rootHash?: string; verityCert?: string }) {
      const usage = (m: string): never => this.error(`error: ${m}`, { exitCode: 2, code: 'erofs-forge.usage' });
      if (o.rootHash === undefined && [o.veritySignature, o.verityCert, o.verityHashFile, o.verityNoSuperblock, o.veritySalt, o.verityHash, o.verityDataBlockSize, o.verityHashBlockSize, o.verityHashOffset].some((x) => x !== undefined)) {
        usage('the --verity-* options need --root-hash');
      }
      if (o.rootHash !== undefined && files.length !== 1) usage('--root-hash checks one image');
      const rootHash = o.rootHash === undefined ? undefined : readRootHash(o.rootHash);
      let uuidMap: UuidMap | undefined;
      if (o.uuidMap !== undefined) {
        try {
          uuidMap = loadUuidMap(o.uuidMap);
        } catch (e) {
          if (e instanceof UserError) this.error(`error: ${e.message}`, { exitCode: 2, code: 'erofs-forge.usage' });
          throw e;
        }
      }
      const progress = o.json ? undefined : progressPrinter();
      const report = await verifyImages(files, { vendorNamespace: o.vendorNamespace, uuidMap, onProgress: progress });
      if (progress) process.stderr.write('\r\x1b[K');
      let verity: Record<string, unknown> | undefined;
      let verityLine = '';
      if (rootHash) {
        const { checkImageSeal } = await import('../verity/image.js');
        const image = files[0];
        const t0 = performance.now();
        const v = await checkImageSeal(image, {
          rootHash, signatureFile: o.veritySignature, certFile: o.verityCert, hashFile: o.verityHashFile,
          superblock: !o.verityNoSuperblock, hashOffset: o.verityHashOffset, hash: o.verityHash ?? 'sha256',
          dataBlockSize: o.verityDataBlockSize, hashBlockSize: o.verityHashBlockSize, salt: o.veritySalt,
        });
        const seconds = (performance.now() - t0) / 1000;
        for (const p of v.problems) report.problems.push({ image, ...p });
        report.images[0].problems += v.problems.length;
        if (v.problems.length) report.ok = false;
        const p = v.found?.params;
        verity = {
          image, ok: v.problems.length === 0, rootHash: Buffer.from(rootHash).toString('hex'), computedRootHash: v.computedRoot,
          hashAlgorithm: p?.hash ?? null, dataBlocks: p?.dataBlocks ?? null, dataBlockSize: p?.dataBlockSize ?? null,
          hashBlockSize: p?.hashBlockSize ?? null, hashOffset: p?.hashOffset ?? null, superblock: p ? p.superblock : null,
          hashFile: o.verityHashFile ?? null, signatureVerified: v.signatureChecked, seconds,
        };
        verityLine = `verity: ${image}: ${v.problems.length ? 'FAILED' : `root hash ${verity.rootHash} OK${v.signatureChecked ? ', signature verified' : ''}`}`
          + `${p ? ` (${p.dataBlocks} data blocks of ${p.dataBlockSize} B checked in ${seconds.toFixed(2)} s)` : ''}\n`;
      }
      if (o.json) {
        process.stdout.write(JSON.stringify({
          schema: VERIFY_SCHEMA, ok: report.ok, images: report.images, problems: report.problems,
          totals: {
            files: report.files, fingerprinted: report.fingerprinted, verified: report.verified, unchecked: report.unchecked,
            bytes: report.bytes, seconds: report.seconds,
          },
          ...(verity ? { verity } : {}),
        }) + '\n');
      } else {
        process.stdout.write(report.problems.map((p) => problemLine(p) + '\n').join(''));
        process.stderr.write(summaryLine(report) + '\n' + verityLine);
      }
      if (!report.ok) process.exitCode = 1;
    });
}
