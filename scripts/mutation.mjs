#!/usr/bin/env node
/**
 * `npm run test:mutation [group…]`: Stryker over the modules that hold the delivery rules, one group at a time, each
 * against the tests that exercise it (running every test file against every mutant would take hours here). Prints
 * each group's score and the total; reports in reports/mutation/<group>.html|json.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const GROUPS = {
  message: { mutate: ['src/message/index.ts'], tests: ['src/message/__tests__/message.test.ts'] },
  identity: { mutate: ['src/actions/identity.ts', 'src/actions/bounded-cache.ts'], tests: ['src/actions/__tests__/*.test.ts'] },
  order: {
    mutate: ['src/actions/orderCompleted/index.ts', 'src/actions/event.ts'],
    tests: ['src/actions/__tests__/*.test.ts', 'test/delivery-rules.test.ts'],
  },
  klaviyo: {
    mutate: ['src/klaviyo/classify.ts', 'src/klaviyo/backoff.ts', 'src/klaviyo/limiter.ts'],
    tests: ['src/klaviyo/__tests__/*.test.ts', 'test/delivery-rules.test.ts'],
  },
  batcher: { mutate: ['src/batcher/index.ts'], tests: ['src/batcher/__tests__/*.test.ts', 'test/delivery-rules.test.ts'] },
  delivery: {
    mutate: ['src/delivery/executor.ts', 'src/delivery/worker.ts'],
    tests: ['src/delivery/__tests__/*.test.ts', 'test/delivery-rules.test.ts', 'test/settle.test.ts'],
  },
  kinds: {
    mutate: ['src/operation-kinds/*.ts', 'src/klaviyo/operations.ts'],
    tests: [
      'src/operation-kinds/__tests__/*.test.ts',
      'src/delivery/__tests__/executor.test.ts',
      'src/presets/__tests__/delivery.test.ts',
      'test/delivery-rules.test.ts',
      'test/one-request-path.test.ts',
    ],
  },
};

const asked = process.argv.slice(2);
const unknown = asked.filter((g) => !(g in GROUPS));
if (unknown.length) {
  console.error(`unknown group ${unknown.join(', ')}; known: ${Object.keys(GROUPS).join(', ')}`);
  process.exit(2);
}
const names = asked.length ? asked : Object.keys(GROUPS);

/** Stryker's JSON report → counts by status. */
function counts(group) {
  const report = JSON.parse(readFileSync(`reports/mutation/${group}.json`, 'utf8'));
  const c = {};
  for (const f of Object.values(report.files)) for (const m of f.mutants) c[m.status] = (c[m.status] ?? 0) + 1;
  return c;
}
const scoreOf = (c) => {
  const detected = (c.Killed ?? 0) + (c.Timeout ?? 0);
  const valid = detected + (c.Survived ?? 0) + (c.NoCoverage ?? 0);
  return { detected, valid, score: valid ? (100 * detected) / valid : 100 };
};

const rows = [];
for (const name of names) {
  const g = GROUPS[name];
  console.log(`\n== ${name}: ${g.mutate.join(' ')}`);
  const env = { ...process.env, MUTATE: g.mutate.join(','), MUTATION_TESTS: g.tests.join(','), MUTATION_GROUP: name };
  const run = spawnSync('npx', ['stryker', 'run'], { stdio: 'inherit', env });
  if (run.status !== 0) process.exit(run.status ?? 1);
  rows.push([name, counts(name)]);
}

console.log('\ngroup      killed  timeout  survived  no coverage  compile errors  score');
const total = {};
for (const [name, c] of rows) {
  for (const [k, v] of Object.entries(c)) total[k] = (total[k] ?? 0) + v;
  const s = scoreOf(c);
  console.log(
    `${name.padEnd(10)} ${String(c.Killed ?? 0).padStart(6)} ${String(c.Timeout ?? 0).padStart(8)} ${String(c.Survived ?? 0).padStart(9)} ` +
      `${String(c.NoCoverage ?? 0).padStart(12)} ${String(c.CompileError ?? 0).padStart(15)}  ${s.score.toFixed(1)} %`,
  );
}
const t = scoreOf(total);
console.log(`total: ${t.detected} of ${t.valid} valid mutants detected, ${t.score.toFixed(1)} %`);
