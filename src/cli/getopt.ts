// getopt_long as glibc implements it, for the mkfs.erofs-compatible command: callers such as
// systemd-repart put options after IMAGE SOURCE (`mkfs.erofs -U ID NODE ROOT --quiet`), so the
// details matter: argv permutation, unique prefixes of long options, short option clusters.

export type ArgKind = 'none' | 'required' | 'optional';

export interface LongOption {
  name: string;
  has: ArgKind;
  /** What the option means; two names with one key are one option (glibc: same has_arg, flag, val). */
  key: string;
}

export interface ParsedOption {
  key: string;
  /** The option as written, for messages: "--tar", "-z". */
  spelled: string;
  value?: string;
}

/** A getopt error, worded as glibc words it. */
export interface GetoptError {
  error: string;
}

export interface GetoptResult {
  /** Options and errors in the order getopt returns them: mkfs.erofs acts on each as it comes. */
  items: (ParsedOption | GetoptError)[];
  operands: string[];
}

/**
 * Parse argv (without the program name). `shorts` is a getopt optstring ("C:E:b:Vh": a colon
 * after a letter means it takes a value). Permutes like glibc unless POSIXLY_CORRECT is set:
 * then the first operand ends the options. "--" always ends them.
 */
export function getoptLong(argv: readonly string[], shorts: string, longs: readonly LongOption[],
  env: NodeJS.ProcessEnv = process.env): GetoptResult {
  const shortKinds = new Map<string, ArgKind>();
  for (let i = 0; i < shorts.length; i++) {
    const c = shorts[i];
    if (c === ':') continue;
    shortKinds.set(c, shorts[i + 1] === ':' ? (shorts[i + 2] === ':' ? 'optional' : 'required') : 'none');
  }
  const posixly = env.POSIXLY_CORRECT !== undefined;
  const items: (ParsedOption | GetoptError)[] = [];
  const operands: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a.length < 2 || a[0] !== '-') {
      if (posixly) break;
      operands.push(a);
      continue;
    }
    if (a.startsWith('--')) {
      const body = a.slice(2);
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      const inline = eq < 0 ? undefined : body.slice(eq + 1);
      let opt = longs.find((l) => l.name === name);
      if (!opt) {
        const cands = longs.filter((l) => l.name.startsWith(name));
        // Prefixes naming one option through several spellings are not ambiguous (glibc).
        const distinct = cands.filter((c, k) => cands.findIndex((d) => d.key === c.key && d.has === c.has) === k);
        if (distinct.length > 1) {
          items.push({ error: `option '--${name}' is ambiguous; possibilities:${cands.map((c) => ` '--${c.name}'`).join('')}` });
          continue;
        }
        opt = cands[0];
      }
      if (!opt) {
        items.push({ error: `unrecognized option '--${name}'` });
        continue;
      }
      const spelled = `--${opt.name}`;
      if (opt.has === 'none') {
        if (inline !== undefined) items.push({ error: `option '${spelled}' doesn't allow an argument` });
        else items.push({ key: opt.key, spelled });
      } else if (opt.has === 'optional') {
        items.push({ key: opt.key, spelled, value: inline });
      } else if (inline !== undefined) {
        items.push({ key: opt.key, spelled, value: inline });
      } else if (i + 1 < argv.length) {
        items.push({ key: opt.key, spelled, value: argv[++i] });
      } else {
        items.push({ error: `option '${spelled}' requires an argument` });
      }
      continue;
    }
    // A cluster of short options: "-Tz" is -T with value "z"; "-Vh" is -V then -h.
    for (let k = 1; k < a.length; k++) {
      const c = a[k];
      const kind = shortKinds.get(c);
      if (kind === undefined) {
        items.push({ error: `invalid option -- '${c}'` });
        continue;
      }
      if (kind === 'none') {
        items.push({ key: c, spelled: `-${c}` });
        continue;
      }
      const rest = a.slice(k + 1);
      if (rest || kind === 'optional') {
        items.push({ key: c, spelled: `-${c}`, value: rest || undefined });
      } else if (i + 1 < argv.length) {
        items.push({ key: c, spelled: `-${c}`, value: argv[++i] });
      } else {
        items.push({ error: `option requires an argument -- '${c}'` });
      }
      break;
    }
  }
  for (; i < argv.length; i++) operands.push(argv[i]);
  return { items, operands };
}
