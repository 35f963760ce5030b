#!/usr/bin/env node
// Import cycles in src/: between files, and between folders (src/<folder>/, with src/*.ts as their own
// rooms). Reads `import`/`export ... from` lines as text, type-only imports included: a type import is
// still an arrow a reader must follow. Prints each cycle and exits 1 when there is one.
// Usage: node scripts/check-cycles.mjs [srcDir]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every .ts file under dir, as paths relative to dir. */
function listTs(dir, base = dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p, base));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(relative(base, p));
  }
  return out;
}

const FROM = /^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm;

/** file -> files it imports (relative paths under srcDir). */
export function importGraph(srcDir) {
  const files = listTs(srcDir);
  const known = new Set(files);
  const graph = new Map();
  for (const f of files) {
    const text = readFileSync(join(srcDir, f), 'utf8');
    const deps = new Set();
    for (const m of text.matchAll(FROM)) {
      const spec = m[1] ?? m[2];
      const target = relative(srcDir, resolve(srcDir, dirname(f), spec)).replace(/\.js$/, '.ts');
      if (known.has(target)) deps.add(target);
    }
    graph.set(f, [...deps].sort());
  }
  return graph;
}

/** Strongly connected components with more than one node (Tarjan), each sorted. */
export function cycles(graph) {
  let index = 0;
  const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], out = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

/**
 * The room of a file seen from folder `at` ('' for srcDir itself): the child of `at` that holds it
 * (src/a/x.ts -> "a"; at "pipeline", pipeline/plan/p.ts -> "pipeline/plan"); files directly in `at`
 * are rooms of their own. Files outside `at` have none.
 */
function roomAt(at) {
  const prefix = at ? `${at}/` : '';
  return (f) => {
    if (!f.startsWith(prefix)) return undefined;
    const rest = f.slice(prefix.length);
    return prefix + (rest.includes('/') ? rest.slice(0, rest.indexOf('/')) : rest);
  };
}

/** The folder graph among the children of folder `at` (default: the top-level folders). */
export function folderGraph(graph, at = '') {
  const room = roomAt(at);
  const g = new Map();
  for (const [f, deps] of graph) {
    const r = room(f);
    if (r === undefined) continue;
    if (!g.has(r)) g.set(r, new Set());
    for (const d of deps) {
      const rd = room(d);
      if (rd !== undefined && rd !== r) g.get(r).add(rd);
    }
  }
  return new Map([...g].map(([k, v]) => [k, [...v].sort()]));
}

/** For each pair of rooms in a cycle, the file-level arrows that tie them (for the report). */
function evidence(graph, scc, room) {
  const set = new Set(scc);
  const lines = [];
  for (const [f, deps] of graph) {
    for (const d of deps) if (set.has(room(f)) && set.has(room(d)) && room(f) !== room(d)) lines.push(`    ${f} -> ${d}`);
  }
  return lines;
}

export function checkCycles(srcDir) {
  const graph = importGraph(srcDir);
  // Folders at every depth: the top-level rooms, and the subfolders of each folder among themselves.
  const folders = new Set(['']);
  for (const f of graph.keys()) for (let d = dirname(f); d !== '.'; d = dirname(d)) folders.add(d);
  const found = [];
  for (const at of [...folders].sort()) {
    const room = roomAt(at);
    for (const scc of cycles(folderGraph(graph, at))) found.push({ scc, arrows: evidence(graph, scc, room) });
  }
  return { files: cycles(graph), folders: found };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const srcDir = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'src'));
  const { files, folders } = checkCycles(srcDir);
  for (const c of files) console.log(`file cycle: ${c.join(' <-> ')}`);
  for (const c of folders) console.log(`folder cycle: ${c.scc.join(' <-> ')}\n${c.arrows.join('\n')}`);
  if (files.length || folders.length) process.exit(1);
  console.log('no import cycles');
}
