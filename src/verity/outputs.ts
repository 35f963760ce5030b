// The files a seal writes beside the image: the hash file, the root hash, veritysetup's text and
// the signature JSON. Each is written to a temp file beside its target and renamed into place only
// when everything succeeded (commit), or removed (abort): a failed run leaves none of them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError, errnoReason } from '../errors.js';
import { liveTempFiles } from '../sys/cleanup.js';
import { hex } from './params.js';
import { veritysetupText, type SealResult } from './seal.js';
// Types only: sign.js (and PKIjs, ~20 ms of CPU to load) is loaded when a root hash is signed.
import type { Signer, VeritySignatureJson } from './sign.js';

export class StagedFiles {
  private readonly staged: { temp: string; target: string }[] = [];

  /** A new empty temp file for `target`, open for reading and writing; returns its descriptor. */
  open(target: string): number {
    if (this.staged.some((s) => path.resolve(s.target) === path.resolve(target))) throw new UserError(`${target}: named twice among the outputs`);
    const temp = path.join(path.dirname(path.resolve(target)), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
    let fd: number;
    try {
      fd = fs.openSync(temp, 'wx+', 0o644);
    } catch (e) {
      throw new UserError(`${target}: cannot create: ${errnoReason(e, { ENOENT: 'no such directory' })}`);
    }
    liveTempFiles.add(temp);
    this.staged.push({ temp, target });
    return fd;
  }

  write(target: string, data: string | Uint8Array): void {
    const fd = this.open(target);
    try {
      fs.writeFileSync(fd, data);
    } catch (e) {
      throw new UserError(`${target}: write failed: ${(e as Error).message}`);
    } finally {
      fs.closeSync(fd);
    }
  }

  commit(): void {
    for (const s of this.staged) {
      try {
        fs.renameSync(s.temp, s.target);
      } catch (e) {
        throw new UserError(`${s.target}: cannot move into place: ${(e as Error).message}`);
      }
      liveTempFiles.delete(s.temp);
    }
    this.staged.length = 0;
  }

  abort(): void {
    for (const s of this.staged) {
      try { fs.unlinkSync(s.temp); } catch { /* gone */ }
      liveTempFiles.delete(s.temp);
    }
    this.staged.length = 0;
  }
}

/** Side outputs of a seal, beside the tree itself. */
export interface SealOutputs {
  rootHashFile?: string;
  envFile?: string;
  signer?: { signer: Signer; signatureFile: string };
}

/** Stage the root hash file, the veritysetup text and the signature JSON; returns the signature. */
export async function stageOutputs(r: SealResult, hashDevice: string, o: SealOutputs, staged: StagedFiles): Promise<VeritySignatureJson | undefined> {
  if (o.rootHashFile) staged.write(o.rootHashFile, hex(r.rootHash)); // no newline, as veritysetup --root-hash-file
  if (o.envFile) staged.write(o.envFile, veritysetupText(r, hashDevice));
  if (!o.signer) return undefined;
  const { signatureJson } = await import('./sign.js');
  const sig = signatureJson(o.signer.signer, r.rootHash);
  staged.write(o.signer.signatureFile, JSON.stringify(sig) + '\n');
  return sig;
}
