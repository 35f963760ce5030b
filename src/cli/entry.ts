// How every entry point ends on an error (the CLI, `npm start`'s demo, the bench, the fuzz and matrix
// runners): one line on stderr and a non-zero exit, never a stack trace for something the user can fix.
import { UserError, CorruptImageError, UnsupportedFeatureError } from '../errors.js';

/** A user error's one-line message (bad input, a missing file, a corrupt image), else null. */
export function userMessage(e: unknown): string | null {
  if (e instanceof UserError || e instanceof CorruptImageError || e instanceof UnsupportedFeatureError) return e.message;
  const err = e as NodeJS.ErrnoException;
  // errno failures of the file system (ENOENT, EACCES, ENOSPC...) are about the user's files.
  if (err && typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code) && typeof err.message === 'string') return err.message;
  return null;
}

/**
 * Run `fn` as a program named `name`: exit 1 with `name: message` on any error. An unexpected one is
 * still one line, marked as internal; EROFS_FORGE_DEBUG=1 prints its stack too.
 */
export async function runEntry(name: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const msg = userMessage(e);
    if (msg !== null) process.stderr.write(`${name}: ${msg}\n`);
    else {
      const err = e as Error;
      process.stderr.write(`${name}: internal error: ${err && err.message ? err.message.split('\n')[0] : String(e)}\n`);
      if (process.env.EROFS_FORGE_DEBUG) process.stderr.write(`${err && err.stack}\n`);
    }
    process.exitCode = 1;
  }
}
