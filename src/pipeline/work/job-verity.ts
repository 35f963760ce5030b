// The --verity job: the leaf digests of one range of the finished image's data blocks, read from
// the image file itself (its temp file, or the device), for the tree the main thread builds above
// them (verity/tree.ts buildHashTreeFrom).
import * as fs from 'node:fs';
import { UserError, errnoReason } from '../../errors.js';
import { imageOfTemp } from '../io/output.js';
import { fdReader } from '../../verity/io.js';
import { leafDigests } from '../../verity/tree.js';
import type { JobOf, JobResult } from './job-types.js';

export function leafDigestsJob(job: JobOf<'vleaves'>): JobResult {
  let fd: number;
  try {
    fd = fs.openSync(job.image, 'r');
  } catch (e) {
    throw new UserError(`${imageOfTemp(job.image)}: cannot read back: ${errnoReason(e)}`);
  }
  try {
    return { kind: 'vleaves', digests: leafDigests(fdReader(fd), job.p, job.first, job.count, imageOfTemp(job.image)) };
  } finally {
    fs.closeSync(fd);
  }
}
