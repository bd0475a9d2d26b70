/**
 * Which Klaviyo account a destination delivers to, as a name a sync can key what it recorded as synced by: a run
 * against another account (or the emulator) starts from nothing. Never the key itself: a hash of it and of the
 * address it is sent to. The built-in emulator of a data dir is an account of its own (it keeps its state there).
 * A new key for the same account counts as another account: its first run sends every row again.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { DestinationEntry } from '../config/index.js';
import { KLAVIYO_BASE_URL } from '../klaviyo/revision.js';
import { presetApiKey } from '../presets/index.js';

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The built-in emulator of the data dir `dataDir`. */
export const emulatorAccount = (dataDir: string) => `emulator-${hash(resolve(dataDir))}`;

export const isEmulatorAccount = (account: string) => account.startsWith('emulator-');

/** The account a destination of a config delivers to, from a process whose data dir is `dataDir`. */
export function destinationAccount(d: DestinationEntry, dataDir: string): string {
  const apiKey = d.apiKey ?? presetApiKey(d.preset, d.settings);
  if (!apiKey && !d.klaviyoUrl) return emulatorAccount(dataDir);
  return `klaviyo-${hash(`${withoutTrailingSlashes(d.klaviyoUrl ?? KLAVIYO_BASE_URL)}\u0000${apiKey ?? ''}`)}`;
}

/** `https://x/` and `https://x` are one address (a loop: a regex for it is not linear). */
function withoutTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end--;
  return url.slice(0, end);
}
