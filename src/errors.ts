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
