// Typed errors. The core throws these; only src/cli turns them into one-line messages and exit codes.

/** A problem with what the user asked for or gave us (bad option, unreadable source, ...). */
export class UserError extends Error {
  override name = 'UserError';
}

/** The image breaks a rule of the format. `rule` is a short stable reason; `where` names the nid or path. */
export class CorruptImageError extends Error {
  override name = 'CorruptImageError';
  constructor(readonly rule: string, readonly where?: string, detail?: string) {
    super(`${where ? where + ': ' : ''}${rule}${detail ? ` (${detail})` : ''}`);
  }
}

/** The image is valid but uses something this reader does not implement. */
export class UnsupportedFeatureError extends Error {
  override name = 'UnsupportedFeatureError';
}

/** What a failed system call means, in words (strerror's, lower case) for UserError messages. */
const ERRNO_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'name too long',
  EIO: 'input/output error',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EFBIG: 'file too large for this file system',
  EBUSY: 'device is busy (mounted or in use)',
};

/**
 * The reason part of a one-line message for a failed system call: the words for its errno, or the
 * error's own message. `context` rewords a code where the caller knows better (creating a file in a
 * missing directory: ENOENT is "no such directory").
 */
export function errnoReason(e: unknown, context?: Readonly<Record<string, string>>): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code && (context?.[code] ?? ERRNO_REASONS[code])) || (e as Error).message;
}
