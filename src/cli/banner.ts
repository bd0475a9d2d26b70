/** What `start` tells a person at a terminal: where it listens, the keys, where to look, and a first event to send. */
import { isAbsolute, relative, sep } from 'node:path';

export interface BannerInput {
  url: string;
  role: 'all' | 'ingest' | 'worker';
  writeKeys: Record<string, string>;
  adminToken: string;
  /** The built-in emulator's base URL, when there is no Klaviyo key. */
  emulatorUrl?: string;
  /** Seconds a stop waits for in-flight deliveries. */
  stopTimeoutS: number;
  /** How this command is run here: `npx klaviyo-destination`, or `node dist/cli/index.js` in a clone. */
  command: string;
}

/** The command as the person can type it again: installed (a bin in node_modules), or the clone's dist/ file. */
export function commandName(script: string, cwd: string): string {
  if (script.includes(`${sep}node_modules${sep}`)) return 'npx klaviyo-destination';
  const rel = relative(cwd, script);
  return `node ${rel.startsWith('..') || isAbsolute(rel) ? script : rel}`;
}

/** A first event, ready to paste: identified by email, so it lands on a profile in Klaviyo (or the emulator). */
export function firstEventCurl(url: string, writeKey: string): string {
  const body = JSON.stringify({ userId: 'u1', event: 'Signed Up', properties: { plan: 'pro' }, context: { traits: { email: 'ada@example.com' } } });
  return `curl -s -u '${writeKey}:' ${url}/v1/track -H 'Content-Type: application/json' -d '${body}'`;
}

export function startBanner(b: BannerInput): string {
  const lines = [`klaviyo-destination is running at ${b.url}`, ''];
  const sources = Object.entries(b.writeKeys);
  if (b.role !== 'worker') for (const [name, key] of sources) lines.push(`  write key${sources.length > 1 ? ` (source ${name})` : ''}:  ${key}`);
  lines.push(`  dashboard:  ${b.url}/ui/  (admin token: ${b.adminToken})`);
  if (b.emulatorUrl)
    lines.push(
      '  Klaviyo:    no API key given, so events go to the built-in emulator (KLAVIYO_API_KEY=pk_… for your account)',
      `              what it holds: ${b.emulatorUrl}/__emulator/state  (or the dashboard's Configuration page)`,
    );
  if (b.role !== 'worker' && sources.length) lines.push('', 'Send a first event:', '', `  ${firstEventCurl(b.url, sources[0][1])}`);
  lines.push(
    '',
    `Lost this? \`${b.command} credentials\` shows the write keys.`,
    `Ctrl-C stops: in-flight deliveries get up to ${b.stopTimeoutS} s to finish; a second Ctrl-C stops at once (the queue keeps what is not delivered).`,
    '',
  );
  return lines.join('\n') + '\n';
}
