#!/usr/bin/env node
// Fails when the folders under src/ import each other in a cycle (a folder = one layer or concern; tests excluded).
// Prints each cycle with one import that closes it. Run: npm run check:layers
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const src = resolve(import.meta.dirname, '..', 'src');
const folderOf = (file) => relative(src, file).split(sep)[0];
const edges = new Map(); // folder → Map(folder → example "file → import")

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== '__tests__') walk(path);
    } else if (/\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name)) scan(path);
  }
}

function scan(file) {
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
    const target = resolve(dirname(file), m[1] ?? m[2]);
    if (!target.startsWith(src + sep)) continue;
    const a = folderOf(file);
    const b = folderOf(target);
    if (a === b || !statSync(join(src, b), { throwIfNoEntry: false })?.isDirectory()) continue;
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.get(a).has(b)) edges.get(a).set(b, `${relative(src, file)} → ${m[1] ?? m[2]}`);
  }
}

walk(src);
// Strongly connected components (Tarjan): any with more than one folder is a cycle.
let index = 0;
const idx = new Map(),
  low = new Map(),
  stack = [],
  on = new Set(),
  cycles = [];
function strong(v) {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  on.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!idx.has(w)) {
      strong(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const comp = [];
    let w;
    do {
      w = stack.pop();
      on.delete(w);
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1) cycles.push(comp);
  }
}
for (const v of edges.keys()) if (!idx.has(v)) strong(v);
if (!cycles.length) {
  console.log(
    `check-layers: no import cycle between the ${new Set([...edges.keys(), ...[...edges.values()].flatMap((m) => [...m.keys()])]).size} folders of src/`,
  );
  process.exit(0);
}
for (const comp of cycles) {
  console.error(`import cycle between folders: ${comp.sort().join(', ')}`);
  for (const a of comp) for (const [b, why] of edges.get(a) ?? []) if (comp.includes(b)) console.error(`  ${a} → ${b}: ${why}`);
}
process.exit(1);
