/**
 * The emulator's state kept in a file across restarts: read once at start, written whole (temp file + rename, so a
 * crash leaves the old file or the new one, never half of one), at most once per interval while it changes, and on
 * close.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { EmulatorState, type StateDump } from './state.js';

/** The state kept in `path`; undefined when there is no file yet. Throws, saying what to do, on one it cannot read. */
export function readStateFile(path: string): EmulatorState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return EmulatorState.restore(JSON.parse(text) as StateDump);
  } catch (err) {
    throw new Error(`the emulator state file ${path} cannot be read (${(err as Error).message}): move it away or delete it to start the emulator empty`);
  }
}

export function writeStateFile(path: string, state: EmulatorState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state.dump()));
  renameSync(tmp, path);
}

/** Writes the state after it changes, at most once per `intervalMs`; `flush` writes now if anything is unsaved. */
export class StateSaver {
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;

  constructor(
    private readonly path: string,
    private readonly state: () => EmulatorState,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  changed(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.intervalMs);
    this.timer.unref();
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return;
    this.dirty = false;
    try {
      writeStateFile(this.path, this.state());
    } catch (err) {
      this.dirty = true;
      this.onError(err);
    }
  }
}
