// SELinux file_contexts (selinux_file(5)), matched as libselinux's file backend matches them
// (label_file.c/.h, read for facts): each line "REGEX [TYPE] CONTEXT"; '#' comments and blank
// lines skipped; the regex is anchored on the whole path (^REGEX$); TYPE is -- (regular file),
// -d, -l, -c, -b, -p or -s. Lines whose regex has no meta character (escaped ones like "\." do
// not count) are exact paths and win over every regex; otherwise the LAST matching line wins.
// "<<none>>" means: no label. Repeated slashes in the looked-up path count as one.
import * as fs from 'node:fs';
import { UserError } from '../errors.js';
import type { FileKind } from '../format/file-kind.js';

interface Spec {
  regex: RegExp;
  /** undefined: any file type. */
  kind?: FileKind;
  /** null for <<none>>. */
  context: string | null;
  /** Exact path (no meta characters): preferred over regexes. */
  literal: boolean;
}

export interface FileContexts {
  /** Literal specs after regex specs, each group in file order: lookups scan from the end. */
  specs: Spec[];
}

const KINDS: Record<string, FileKind> = { '--': 'reg', '-d': 'dir', '-l': 'lnk', '-c': 'chr', '-b': 'blk', '-p': 'fifo', '-s': 'sock' };

/** libselinux regex_has_meta_chars: unescaped . ^ $ ? * + | [ ( { ] ) } make a regex. */
function hasMetaChars(re: string): boolean {
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if ('.^$?*+|[({])}'.includes(c)) return true;
    if (c === '\\') {
      i++;
      if (i < re.length && !'.^$?*+|[({])}-_,'.includes(re[i])) return true;
    }
  }
  return false;
}

/** POSIX bracket classes PCRE knows and JavaScript does not. */
function toJsRegex(re: string): string {
  const classes: Record<string, string> = {
    alnum: 'a-zA-Z0-9', alpha: 'a-zA-Z', digit: '0-9', lower: 'a-z', upper: 'A-Z', space: ' \\t\\n\\r\\f\\v',
    xdigit: '0-9a-fA-F', punct: '!-\\/:-@\\[-`{-~', blank: ' \\t', cntrl: '\\x00-\\x1f\\x7f', print: '\\x20-\\x7e', graph: '\\x21-\\x7e',
  };
  return re.replace(/\[:([a-z]+):\]/g, (m, name: string) => classes[name] ?? m);
}

export function parseFileContexts(text: string, file: string): FileContexts {
  const regexSpecs: Spec[] = [];
  const literalSpecs: Spec[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const f = line.split(/\s+/);
    if (f.length < 2) throw new UserError(`${file}: line ${i + 1} is missing fields`);
    if (f.length > 3) throw new UserError(`${file}: line ${i + 1} has too many fields`);
    const [re, type, ctx] = f.length === 2 ? [f[0], undefined, f[1]] : f;
    let kind: FileKind | undefined;
    if (type !== undefined) {
      kind = KINDS[type];
      if (!kind) throw new UserError(`${file}: line ${i + 1} has invalid file type ${type}`);
    }
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:${toJsRegex(re)})$`, 's');
    } catch (e) {
      throw new UserError(`${file}: line ${i + 1} has invalid regex ${re}: ${(e as Error).message}`);
    }
    const literal = !hasMetaChars(re);
    (literal ? literalSpecs : regexSpecs).push({ regex, kind, context: ctx === '<<none>>' ? null : ctx, literal });
  });
  return { specs: [...regexSpecs, ...literalSpecs] };
}

export function loadFileContexts(file: string): FileContexts {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (e) {
    throw new UserError(`--file-contexts ${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseFileContexts(text, file);
}

/** The label of `path` (absolute, latin1), or null (no match, or <<none>>). */
export function lookupContext(fc: FileContexts, path: string, kind: FileKind): string | null {
  const key = path.replace(/\/{2,}/g, '/');
  for (let i = fc.specs.length - 1; i >= 0; i--) {
    const s = fc.specs[i];
    if (s.kind !== undefined && s.kind !== kind) continue;
    if (s.regex.test(key)) return s.context;
  }
  return null;
}

/**
 * The path mkfs.erofs looks up for a file (lib/xattr.c erofs_get_selabel_xattr): "/" + mount point
 * + "/" + path relative to the source; the root is "/MOUNT/" (or "/" without a mount point).
 */
export function selabelPath(relPath: string, mountPoint: string | undefined): string {
  return mountPoint !== undefined ? `/${mountPoint}/${relPath}` : `/${relPath}`;
}
