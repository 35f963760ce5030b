// What a long operation (build, extract) reports as it goes: shared by the pipeline, the reader and the
// CLI's progress line, so none of them imports another for it.
export interface Progress {
  phase: 'scan' | 'write' | 'extract' | 'done';
  /** Inodes handled so far, and in all (0 while scanning). */
  files: number;
  totalFiles: number;
  /** Regular-file bytes handled so far, and in all. */
  bytes: number;
  totalBytes: number;
}
