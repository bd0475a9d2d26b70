/**
 * A small tmpfs to fill up (a full disk on demand). Needs `mount` (root, or a container that allows it); where it
 * is not allowed, mountTmpfs says why and the caller skips.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Bytes free right now. */
  free(): number;
  unmount(): void;
}

export function mountTmpfs(bytes: number): Tmpfs | { skip: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kd-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return {
      skip: `cannot mount a tmpfs here (${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}): the full-disk checks need mount`,
    };
  }
  const unmountSync = () => {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    } catch {
      // already unmounted
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', unmountSync);
  return {
    dir,
    free: () => {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    },
    unmount: () => {
      process.removeListener('exit', unmountSync);
      unmountSync();
    },
  };
}
