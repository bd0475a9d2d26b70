/**
 * The package as a library, used the way an application would: `import … from 'klaviyo-destination'` resolved by
 * Node through package.json (`exports`, `types`), from a package laid out as npm would install it (its `files`,
 * freshly built by tsconfig.build.json). The application is TypeScript, type-checked against the shipped .d.ts,
 * then run: it starts the emulator and the service, enqueues messages with a library call and waits for them in
 * the emulator.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const tsc = join(root, 'node_modules/typescript/bin/tsc');
// Async: a blocked test worker misses vitest's own heartbeats.
const node = (args: string[], cwd = root) => promisify(execFile)(process.execPath, args, { cwd, encoding: 'utf8' });

const APP = `
import { start, startEmulator, preview, ConfigFileError, type EnqueueResult, type EmulatorSnapshot } from 'klaviyo-destination';

const klaviyo = await startEmulator({ rateLimits: false });
const service = await start({ config: { port: 0, dataDir: process.argv[2] }, overrides: { klaviyoUrl: klaviyo.url, apiKey: 'pk_library_test' } });
const result: EnqueueResult = await service.enqueue([
  { type: 'identify', userId: 'lib-1', traits: { email: 'lib@example.com', firstName: 'Ada' } },
  { type: 'track', userId: 'lib-1', event: 'Order Completed', properties: { order_id: 'o-1', total: 12.5 } },
  { type: 'track' },
]);
const previews = await preview([{ type: 'track', userId: 'lib-1', event: 'Signed Up' }]);
let state: EmulatorSnapshot = klaviyo.snapshot();
for (const end = Date.now() + 60_000; Date.now() < end && !(state.profiles.length && state.events.length); ) {
  await new Promise((r) => setTimeout(r, 50));
  state = klaviyo.snapshot();
}
let sourceError = '';
await service.enqueue([{ type: 'track', userId: 'lib-1', event: 'Lost' }], { source: 'nope' }).catch((err: Error) => (sourceError = err.message));
let configError = '';
await start({ config: { port: -1 } }).catch((err: unknown) => (configError = err instanceof ConfigFileError ? err.message : 'not a ConfigFileError'));
await service.stop();
await klaviyo.close();
console.log(JSON.stringify({ result, previews, profiles: state.profiles, events: state.events, configError, sourceError }));
`;

describe('klaviyo-destination as a library (import by package name)', () => {
  let dir: string;
  let out: { result: any; previews: any[]; profiles: any[]; events: any[]; configError: string; sourceError: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kd-lib-'));
    const pkg = join(dir, 'node_modules/klaviyo-destination');
    mkdirSync(pkg, { recursive: true });
    // The package as npm installs it: package.json plus its `files`; dist built fresh, dependencies from here.
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    for (const f of manifest.files.filter((f) => f !== 'dist')) cpSync(join(root, f), join(pkg, f), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
    await node([tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')]);

    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(join(dir, 'app.ts'), APP);
    // Type-check against the shipped declarations and emit app.js, as an application's build would.
    const tscArgs = ['--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck'];
    await node([tsc, ...tscArgs, '--typeRoots', join(root, 'node_modules/@types'), '--types', 'node', join(dir, 'app.ts')], dir);
    const { stdout } = await node([join(dir, 'app.js'), join(dir, 'data')], dir);
    out = JSON.parse(stdout.trim().split('\n').pop()!);
  }, 240_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships the entry point package.json names', () => {
    expect(existsSync(join(dir, 'node_modules/klaviyo-destination/dist/index.js'))).toBe(true);
    expect(existsSync(join(dir, 'node_modules/klaviyo-destination/dist/index.d.ts'))).toBe(true);
  });

  it('enqueue: stores the valid messages, reports the invalid one by index', () => {
    expect(out.result.accepted).toBe(2);
    expect(out.result.rejected).toHaveLength(1);
    expect(out.result.rejected[0]).toMatchObject({ index: 2 });
  });

  it('enqueue: an unknown source is refused, naming the known ones', () => {
    expect(out.sourceError).toBe('no source is named "nope" (known: default)');
  });

  it('delivers the enqueued messages to the emulator', () => {
    expect(out.profiles.map((p) => p.attributes)).toEqual([expect.objectContaining({ email: 'lib@example.com', external_id: 'lib-1', first_name: 'Ada' })]);
    expect(out.events.map((e) => e.metric)).toEqual(['Order Completed']);
  });

  it('preview: the Klaviyo request a message would become, sending nothing', () => {
    expect(out.previews).toHaveLength(1);
    expect(out.previews[0].requests).toEqual([expect.objectContaining({ method: 'POST', path: '/api/events' })]);
    expect(out.events.map((e) => e.metric)).not.toContain('Signed Up');
  });

  it('start: a bad setting is a ConfigFileError naming it', () => {
    expect(out.configError).toContain('port');
  });
});
