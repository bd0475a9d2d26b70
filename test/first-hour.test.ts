/**
 * A newcomer's first hour, through the built CLI (`npm run build` first): the README's first-event commands, the
 * banner and plain-text logs on a terminal, `credentials`, and a stop that says what it does and is bounded.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { until } from './helpers/until.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli/index.js');
const run = promisify(execFile);
const hasScript = spawnSync('script', ['--version']).status === 0;

const dirs: string[] = [];
const children: ChildProcess[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kd-first-hour-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** `start` as a child with its output collected; `env` on top of a clean one (no inherited key or port). */
function start(cwd: string, args: string[], env: Record<string, string> = {}) {
  const { KLAVIYO_API_KEY: _k, PORT: _p, DATA_DIR: _d, WRITE_KEY: _w, ADMIN_TOKEN: _a, CONFIG_FILE: _c, ...base } = process.env;
  const child = spawn(process.execPath, [cli, 'start', '--port', '0', ...args], { cwd, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const out = { text: '' };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out.text += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out.text += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out, exited };
}

/** A field of the first JSON log line that has it. */
function logged(text: string, field: string): string | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const o = JSON.parse(line);
    if (o[field] !== undefined) return o[field];
  }
  return undefined;
}

async function emulatorState(url: string) {
  return (await fetch(url)).json() as Promise<{
    profiles: Array<{ id: string; attributes: { email?: string } }>;
    events: Array<{ metric: string; profile_id: string }>;
  }>;
}

describe('the README, followed as written', () => {
  it('the first-event commands deliver an event into the emulator of a keyless start', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Send your first event'));
    const block = /```sh\n([\s\S]*?)```/.exec(section)![1];
    expect(block).toMatch(/^curl /m);
    const cwd = tmp();
    const svc = start(cwd, [], { LOG_FORMAT: 'json' }); // the README's default data dir, ./data, in cwd
    const url = await until(
      () => logged(svc.out.text, 'url'),
      (u) => Boolean(u),
    );
    const state = logged(svc.out.text, 'state')!;
    // What differs from the README: our port (the README's is 8080), and the clone's folder (we run in another).
    expect(block).toContain('node dist/cli/index.js ');
    const script = block.replaceAll('http://127.0.0.1:8080', url!).replaceAll('node dist/cli/index.js ', `node ${cli} `);
    const { stdout } = await run('sh', ['-ec', script], { cwd });
    expect(JSON.parse(stdout)).toEqual({ success: true });
    const s = await until(
      () => emulatorState(state),
      (x) => x.events.some((e) => e.metric === 'Signed Up'),
    );
    expect(s.profiles.find((p) => p.id === s.events[0].profile_id)?.attributes.email).toBe('ada@example.com');
  }, 60_000);
});

describe.runIf(hasScript)('start on a terminal (under script(1))', () => {
  it('prints a banner and plain-text logs, no JSON; its curl delivers; Ctrl-C ends with a final line', async () => {
    const cwd = tmp();
    // script(1) gives the child a pseudo-terminal and copies what it prints to our pipe.
    const { LOG_FORMAT: _f, KLAVIYO_API_KEY: _k, PORT: _p, DATA_DIR: _d, WRITE_KEY: _w, ...env } = process.env;
    const term = spawn('script', ['-qec', `exec ${process.execPath} ${cli} start --port 0 --data-dir ./data`, '/dev/null'], {
      cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(term);
    let text = '';
    term.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
    const exited = new Promise<number | null>((r) => term.once('exit', (code) => r(code)));
    const curl = await until(
      () => /^\s*(curl -s .*)$/m.exec(text.replaceAll('\r', ''))?.[1],
      (c) => Boolean(c),
    );
    const lines = text.replaceAll('\r', '').split('\n');
    expect(lines.filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
    expect(text).toMatch(/INFO +klaviyo-destination is accepting events/);
    expect(text).toMatch(/write key: +\S+/);
    expect(text).toMatch(/dashboard: +http:\/\/127\.0\.0\.1:\d+\/ui\/ +\(admin token: \S+\)/);
    expect(text).toMatch(/Lost this\? `node \S+ credentials` shows the write keys/);
    const state = /what it holds: (\S+)/.exec(text)![1];

    const { stdout } = await run('sh', ['-c', curl!], { cwd });
    expect(JSON.parse(stdout)).toEqual({ success: true });
    await until(
      () => emulatorState(state),
      (s) => s.events.some((e) => e.metric === 'Signed Up'),
    );

    term.stdin!.write('\x03'); // Ctrl-C, as typed
    expect(await exited).toBe(0);
    expect(text).toMatch(/stopping: 0 message\(s\) in flight; waiting up to 25 s/);
    expect(text).toMatch(/stopped in [\d.]+ s: every in-flight delivery settled/);
  }, 60_000);
});

describe('credentials', () => {
  it('shows the write key start generated; a rotated admin token is the one the next start takes', async () => {
    const cwd = tmp();
    const svc = start(cwd, ['--data-dir', 'data'], { LOG_FORMAT: 'text' });
    const url = await until(
      () => /accepting events +url=(\S+)/.exec(svc.out.text)?.[1],
      (u) => Boolean(u),
    );
    const generated = /generated write key for source "default": (\S+)/.exec(svc.out.text)![1];
    const { stdout: key } = await run(process.execPath, [cli, 'credentials', '--data-dir', 'data', '--write-key'], { cwd });
    expect(key.trim()).toBe(generated);
    const { stdout: all } = await run(process.execPath, [cli, 'credentials', '--data-dir', 'data'], { cwd });
    expect(all).toContain(`default  ${generated}  (generated, kept in data)`);
    expect(all).toMatch(/--rotate-admin-token/);

    const old = /admin token (\S+) \(generated now/.exec(svc.out.text)![1];
    const { stdout: rotated } = await run(process.execPath, [cli, 'credentials', '--data-dir', 'data', '--rotate-admin-token', '--json'], { cwd });
    const token = JSON.parse(rotated).adminToken as string;
    expect(token).not.toBe(old);
    // The running process keeps the token it started with …
    expect((await fetch(`${url}/admin/status`, { headers: { authorization: `Bearer ${old}` } })).status).toBe(200);
    svc.child.kill('SIGTERM');
    await svc.exited;
    // … and the next start takes the new one.
    const next = start(cwd, ['--data-dir', 'data'], { LOG_FORMAT: 'text' });
    const url2 = await until(
      () => /accepting events +url=(\S+)/.exec(next.out.text)?.[1],
      (u) => Boolean(u),
    );
    expect((await fetch(`${url2}/admin/status`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(`${url2}/admin/status`, { headers: { authorization: `Bearer ${old}` } })).status).toBe(401);
  }, 60_000);
});

describe('a stop that talks', () => {
  /** A keyed start delivering to an emulator that holds every request: a Klaviyo that does not answer. */
  async function stuck(stopTimeout: string) {
    const emu = await startEmulator({ rateLimits: false });
    emu.setFaults({ holdAfter: 0 });
    const cwd = tmp();
    const svc = start(cwd, ['--data-dir', 'data', '--stop-timeout', stopTimeout], {
      LOG_FORMAT: 'text',
      KLAVIYO_API_KEY: 'pk_stuck',
      KLAVIYO_URL: emu.url,
      WRITE_KEY: 'stuck_write_key',
    });
    const url = await until(
      () => /accepting events +url=(\S+)/.exec(svc.out.text)?.[1],
      (u) => Boolean(u),
    );
    const res = await fetch(`${url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('stuck_write_key:').toString('base64')}` },
      body: JSON.stringify({ userId: 'u1', event: 'Stuck', messageId: 'stuck-1', context: { traits: { email: 'ada@example.com' } } }),
    });
    expect(res.status).toBe(200);
    // The event's request is held (the key check's too).
    await until(
      () => emu.snapshot().requests.held,
      (n) => n >= 2,
    );
    return { emu, cwd, svc };
  }

  const queueOf = async (cwd: string) =>
    JSON.parse((await run(process.execPath, [cli, 'status', '--data-dir', 'data', '--json'], { cwd })).stdout).destinations.klaviyo;

  it('says what is in flight and for how long it waits; at the limit it puts it back in the queue and says so', async () => {
    const { emu, cwd, svc } = await stuck('1');
    try {
      const t0 = Date.now();
      svc.child.kill('SIGTERM');
      expect(await svc.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(svc.out.text).toMatch(/stopping: 1 message\(s\) in flight; waiting up to 1 s for them to settle \(SIGTERM again to stop now/);
      expect(svc.out.text).toMatch(/stopped after 1\.\d s: 1 message\(s\) still in flight went back to the queue; the next start delivers them/);
      // Back in the queue, no attempt used: the next start delivers it.
      expect(await queueOf(cwd)).toMatchObject({ queued: 1, leased: 0, retrying: 0, dead: 0, delivered: 0 });
    } finally {
      await emu.close();
    }
  }, 60_000);

  it('a second signal stops at once', async () => {
    const { emu, cwd, svc } = await stuck('600');
    try {
      svc.child.kill('SIGINT');
      await until(
        () => svc.out.text,
        (t) => /waiting up to 600 s/.test(t),
      );
      const t0 = Date.now();
      svc.child.kill('SIGINT');
      expect(await svc.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(svc.out.text).toMatch(/Ctrl-C again to stop now/);
      expect(svc.out.text).toMatch(/stopping now: 1 message\(s\) in flight go back to the queue/);
      expect(svc.out.text).toMatch(/stopped after [\d.]+ s: 1 message\(s\) still in flight went back to the queue/);
      expect(await queueOf(cwd)).toMatchObject({ queued: 1, leased: 0, delivered: 0 });
    } finally {
      await emu.close();
    }
  }, 60_000);
});

describe('filtered apart from delivered', () => {
  it('status, the overview and the metrics count messages that matched no action as filtered, not delivered', async () => {
    const { parseConfig } = await import('../src/config/index.js');
    const { startService } = await import('../src/service/index.js');
    const { createLogger } = await import('../src/service/logger.js');
    const { formatStatus } = await import('../src/store/status.js');
    const emu = await startEmulator({ rateLimits: false });
    const token = 'filtered-admin-token-0123';
    const svc = await startService(
      parseConfig({
        port: 0,
        dataDir: tmp(),
        adminToken: token,
        sources: [{ name: 'web', writeKey: 'filtered_write_key' }],
        destinations: [{ name: 'klaviyo', apiKey: 'pk_filtered', klaviyoUrl: emu.url, delivery: { flushIntervalMs: 20 } }],
      }),
      createLogger('silent'),
    );
    try {
      const batch = [
        { type: 'track', userId: 'u1', event: 'Signed Up', messageId: 'm-track', context: { traits: { email: 'ada@example.com' } } },
        // No subscription of the default preset takes these: settled without a request.
        { type: 'page', userId: 'u1', name: 'Home', messageId: 'm-page' },
        { type: 'group', userId: 'u1', groupId: 'g1', messageId: 'm-group' },
        { type: 'alias', userId: 'u1', previousId: 'anon-1', messageId: 'm-alias' },
      ];
      const res = await fetch(`${svc.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('filtered_write_key:').toString('base64')}` },
        body: JSON.stringify({ batch }),
      });
      expect(res.status).toBe(200);
      const admin = async (path: string) => (await fetch(`${svc.url}/admin${path}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<any>;
      const status = await until(
        () => admin('/status'),
        (s) => s.destinations.klaviyo?.delivered + s.destinations.klaviyo?.filtered === 4,
      );
      expect(status.destinations.klaviyo).toMatchObject({ queued: 0, leased: 0, delivered: 1, filtered: 3 });
      expect(status.destinations.klaviyo.rates.last5m.filtered).toBeGreaterThan(0);
      const overview = await admin('/overview');
      expect(overview.destinations[0].queue).toMatchObject({ delivered: 1, filtered: 3 });
      expect(overview.destinations[0].series.reduce((n: number, p: { filtered: number }) => n + p.filtered, 0)).toBe(3);
      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      expect(metrics).toMatch(/kd_messages_settled_total\{destination="klaviyo",outcome="delivered"\} 1\n/);
      expect(metrics).toMatch(/kd_messages_settled_total\{destination="klaviyo",outcome="filtered"\} 3\n/);
      const [head, row] = formatStatus(status)
        .split('\n')
        .map((l) => l.split(/\s{2,}/));
      expect(Object.fromEntries(head.map((h, i) => [h, row[i]]))).toMatchObject({ delivered: '1', filtered: '3' });
      expect(emu.snapshot().events.map((e) => e.metric)).toEqual(['Signed Up']);
    } finally {
      await svc.stop();
      await emu.close();
    }
  }, 60_000);
});

describe('log format', () => {
  it('text on a terminal, JSON otherwise, LOG_FORMAT overriding either; a line reads as time, level, message, fields', async () => {
    const { logFormat, formatLogLine } = await import('../src/service/logger.js');
    expect([logFormat(undefined, true), logFormat(undefined, false), logFormat('json', true), logFormat('text', false)]).toEqual([
      'text',
      'json',
      'json',
      'text',
    ]);
    expect(() => logFormat('pretty', true)).toThrow(/LOG_FORMAT=pretty: use json or text/);
    const line = formatLogLine(
      JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12), pid: 1, hostname: 'h', msg: 'slow', destination: 'klaviyo', n: 2, why: 'a b' }),
    );
    expect(line).toMatch(/^\d\d:\d\d:\d\d WARN {2}slow {2}destination=klaviyo n=2 why="a b"\n$/);
  });
});
