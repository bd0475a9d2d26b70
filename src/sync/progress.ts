/** Sync progress for people: a bar redrawn in place on a terminal, plain lines (every few seconds) otherwise. */
import type { SyncProgress } from './run.js';

export function progressReporter(model: string, out: NodeJS.WriteStream = process.stderr): { update(p: SyncProgress): void; end(): void } {
  const tty = Boolean(out.isTTY);
  let lastLine = 0;
  let lastPhase = '';
  let drawn = false;
  const text = (p: SyncProgress) => {
    const size = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.ceil(n / 1e3)} kB`);
    const amount =
      p.unit === 'bytes'
        ? `${size(p.done)} of ${size(p.total ?? 0)}`
        : `${p.done.toLocaleString('en-US')}${p.total !== undefined ? ` of ${p.total.toLocaleString('en-US')}` : ''} ${p.unit}`;
    return `${model}: ${p.phase} ${amount}`;
  };
  return {
    update(p) {
      const share = p.total ? Math.min(1, p.done / p.total) : undefined;
      if (tty) {
        const width = 30;
        const bar = share === undefined ? '' : `[${'#'.repeat(Math.round(share * width)).padEnd(width, '.')}] ${Math.round(share * 100)}% `;
        out.write(`\r\x1b[2K${bar}${text(p)}`);
        drawn = true;
        return;
      }
      const now = Date.now();
      if (p.phase !== lastPhase || now - lastLine >= 5000 || share === 1) {
        out.write(`${text(p)}\n`);
        lastLine = now;
        lastPhase = p.phase;
      }
    },
    end() {
      if (tty && drawn) out.write('\n');
    },
  };
}
