/**
 * Chaos run: a steady load of batches while the things around the service fail, then a count of what reached
 * Klaviyo (the emulator, with 5 % of its answers 500). Exits 1 unless every acknowledged message arrived exactly
 * once (0 lost, 0 duplicated effects).
 *
 * A. Shared Postgres: one ingest process and two worker processes (`start --role …`). During the load Postgres is
 *    stopped without warning (`pg_ctl stop -m immediate`) and restarted, and a worker is killed (-9) and restarted.
 * B. Embedded SQLite on a small tmpfs: the disk is filled (ingest answers 503, the load re-sends), then freed,
 *    and the process is killed (-9) and restarted. Skipped, saying why, where `mount` is not allowed.
 *
 * Run: npm run bench:chaos -- [--batches 300]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulator } from '../src/emulator/index.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { mountTmpfs } from '../test/helpers/tmpfs.js';
import { freePort, startChild, WRITE_KEY } from '../test/helpers/service-process.js';

const { values: args } = parseArgs({ options: { batches: { type: 'string', default: '300' } } });
const BATCHES = Number(args.batches);
const BATCH = 20;
const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await sleep(100);
  }
}
const healthy = (port: number) =>
  until(`:${port} healthy`, async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status === 200);
const killed = async (c: ChildProcess) => {
  if (c.exitCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await exited;
};

/** Sends BATCHES batches to `port`, each until it is acknowledged (as an SDK re-sends on 5xx); calls `at` at each step. */
async function load(port: () => number, prefix: string, at: (i: number) => Promise<void>) {
  const acked = new Set<string>();
  const answers: Record<string, number> = {};
  for (let b = 0; b < BATCHES; b++) {
    await at(b);
    const batch = Array.from({ length: BATCH }, (_, i) => {
      const n = b * BATCH + i;
      return {
        type: 'track',
        userId: `user-${n % 40}`,
        messageId: `${prefix}-${n}`,
        event: 'Chaos',
        properties: { n },
        context: { traits: { email: `user${n % 40}@example.com` } },
      };
    });
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${port()}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify({ batch }),
      })
        .then(async (r) => (await r.arrayBuffer(), r.status))
        .catch(() => 0);
      answers[status] = (answers[status] ?? 0) + 1;
      if (status === 200) break;
      await sleep(200);
    }
    batch.forEach((m) => acked.add(m.messageId));
  }
  return { acked, answers };
}

async function verdict(name: string, emu: Awaited<ReturnType<typeof startEmulator>>, acked: Set<string>, answers: Record<string, number>) {
  await until(
    `${name}: every acknowledged message delivered`,
    () => {
      const ids = new Set(emu.snapshot().events.map((e) => e.unique_id));
      return [...acked].every((id) => ids.has(id));
    },
    300_000,
  ).catch((err) => log(String(err)));
  const ids = emu.snapshot().events.map((e) => String(e.unique_id));
  const lost = [...acked].filter((id) => !ids.includes(id)).length;
  const duplicated = ids.length - new Set(ids).size;
  log(
    `${name}: ${acked.size} acknowledged, ${ids.length} events in Klaviyo, ${lost} lost, ${duplicated} duplicated; ` +
      `answers ${JSON.stringify(answers)}; Klaviyo answered ${JSON.stringify(emu.snapshot().requests.byStatus)}`,
  );
  return lost === 0 && duplicated === 0;
}

async function postgresScenario(): Promise<boolean> {
  const pg = await startPostgres({ durable: true });
  const emu = await startEmulator({ rateLimits: false, faults: { rate500: 0.05, seed: 11 } });
  const dir = mkdtempSync(join(tmpdir(), 'kd-chaos-pg-'));
  const ports = { ingest: await freePort(), w1: await freePort(), w2: await freePort() };
  const start = (port: number, role: string) => startChild(port, dir, emu.url, { store: pg.url, role });
  const ingest = start(ports.ingest, 'ingest');
  let w1 = start(ports.w1, 'worker');
  const w2 = start(ports.w2, 'worker');
  try {
    await Promise.all(Object.values(ports).map(healthy));
    const third = Math.floor(BATCHES / 3);
    const { acked, answers } = await load(
      () => ports.ingest,
      'pg',
      async (b) => {
        if (b === third) {
          log('A: stopping Postgres (immediate)');
          pg.halt();
          setTimeout(() => (log('A: starting Postgres again'), pg.resume()), 3000);
        }
        if (b === 2 * third) {
          log('A: kill -9 worker 1, then start it again');
          await killed(w1);
          w1 = start(ports.w1, 'worker');
        }
      },
    );
    return await verdict('A (Postgres stopped, worker killed)', emu, acked, answers);
  } finally {
    await Promise.all([ingest, w1, w2].map(killed));
    await emu.close();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fullDiskScenario(): Promise<boolean> {
  const fs = mountTmpfs(24 * 1024 * 1024);
  if ('skip' in fs) {
    log(`B skipped: ${fs.skip}`);
    return true;
  }
  const emu = await startEmulator({ rateLimits: false, faults: { rate500: 0.05, seed: 12 } });
  const port = await freePort();
  const dataDir = join(fs.dir, 'data');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dataDir, { recursive: true });
  let child = startChild(port, dataDir, emu.url);
  const filler = join(fs.dir, 'filler');
  try {
    await healthy(port);
    const third = Math.floor(BATCHES / 3);
    const { acked, answers } = await load(
      () => port,
      'disk',
      async (b) => {
        if (b === third) {
          log('B: filling the disk');
          try {
            writeFileSync(filler, Buffer.alloc(fs.free()));
          } catch {
            // ENOSPC before the last byte: full either way
          }
          setTimeout(() => (log('B: freeing the disk'), rmSync(filler, { force: true })), 4000);
        }
        if (b === 2 * third) {
          log('B: kill -9 the service, then start it again');
          await killed(child);
          child = startChild(port, dataDir, emu.url);
          await healthy(port);
        }
      },
    );
    return await verdict('B (disk full, process killed)', emu, acked, answers);
  } finally {
    await killed(child);
    await emu.close();
    fs.unmount();
  }
}

const a = await postgresScenario();
const b = await fullDiskScenario();
log(a && b ? 'chaos: 0 lost, 0 duplicated' : 'chaos: FAILED');
process.exit(a && b ? 0 : 1);
