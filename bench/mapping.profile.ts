/**
 * Where validate + plan spends its CPU, stage by stage, for the inputs of `npm run bench`: a CPU profile of
 * validateMessage + planMessage (node:inspector, in this process), each sample charged to the code it was in —
 * a library (zod, the FQL library, mapping-kit, libphonenumber) or a part of our own code. Prints a table.
 * Run: node --import tsx bench/mapping.profile.ts
 */
import { Session } from 'node:inspector/promises';
import { validateMessage } from '../src/message/index.js';
import { compileDestination, planMessage } from '../src/destination/index.js';
import { kinds } from './mapping.inputs.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

/** The stage a frame's script belongs to, or undefined for frames without one (builtins, regexps): their caller's. */
const STAGES: Array<[RegExp, string]> = [
  [/node_modules\/zod\//, 'floor: validateMessage, its zod schema'],
  [/node_modules\/@segment\/destination-subscriptions\//, 'floor: FQL triggers (destination-subscriptions)'],
  [/node_modules\/@segment\/actions-core\//, 'floor: mapping-kit transform (actions-core)'],
  [/node_modules\/libphonenumber-js\//, 'beyond: phone parsing (libphonenumber-js, cached)'],
  [/\/src\/spec\//, 'floor: validateMessage, size/nesting/hygiene/ids'],
  [/\/src\/subscriptions\//, 'beyond: trigger wrapper'],
  [/\/src\/mapping\//, 'beyond: empty-value removal, field checks'],
  [/\/src\/actions\/identity\.ts/, 'beyond: identity (message identifiers, email, phone)'],
  [/\/src\/actions\/profile\.ts/, 'beyond: profile identifiers and attributes'],
  [/\/src\/actions\/limits\.ts/, "beyond: Klaviyo's data limits"],
  [/\/src\/actions\//, 'beyond: action plans (event, order, profile)'],
  [/\/src\/destination\//, 'beyond: planMessage (subscription loop, results)'],
];

function stages(p: Profile): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const out = new Map<string, number>();
  const walk = (n: Node, stage: string | undefined) => {
    const name = n.callFrame.functionName;
    const own = name === '(garbage collector)' ? 'garbage collection (floor and beyond)' : STAGES.find(([re]) => re.test(n.callFrame.url))?.[1];
    const s = own ?? stage;
    if (s && self.get(n.id)) out.set(s, (out.get(s) ?? 0) + self.get(n.id)!);
    for (const c of n.children ?? []) walk(byId.get(c)!, s);
  };
  walk(p.nodes[0], undefined);
  return out;
}

const dest = compileDestination({ settings: { defaultCountry: 'US' } });
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });

const tables: Array<[string, Map<string, number>]> = [];
for (const [name, make] of Object.entries(kinds)) {
  const raw = Array.from({ length: 20_000 }, (_, i) => ({ messageId: `m${i}`, ...make(i) }));
  const run = () => {
    for (const r of raw) {
      const v = validateMessage(r);
      if (v.ok) planMessage(dest, v.message);
    }
  };
  run(); // warm-up
  await session.post('Profiler.start');
  for (let i = 0; i < 3; i++) run();
  const { profile } = await session.post('Profiler.stop');
  tables.push([name, stages(profile as unknown as Profile)]);
}
session.disconnect();

const order = (r: string) => ['floor', 'beyond', 'garbage'].findIndex((w) => r.startsWith(w));
const rows = [...new Set(tables.flatMap(([, t]) => [...t.keys()]))].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
console.log('validate + plan, share of CPU by stage (a sampled profile; self time charged to the code it was in).');
console.log("floor: what npm run bench's floor also does; beyond: what planning adds to it");
console.log(`  ${'stage'.padEnd(54)}${tables.map(([n]) => n.padStart(10)).join('')}`);
for (const r of rows) {
  console.log(
    `  ${r.padEnd(54)}${tables
      .map(([, t]) => {
        const all = [...t.values()].reduce((a, b) => a + b, 0);
        return `${((100 * (t.get(r) ?? 0)) / all).toFixed(1)} %`.padStart(10);
      })
      .join('')}`,
  );
}
