/**
 * klaviyo-destination as a library: run the service inside your own process, hand it messages without HTTP,
 * see what messages would become in Klaviyo requests, and start the Klaviyo emulator for your own tests.
 *
 *   import { start, startEmulator } from 'klaviyo-destination';
 *   const klaviyo = await startEmulator();
 *   const service = await start({ config: { port: 0, dataDir: './data' }, overrides: { klaviyoUrl: klaviyo.url } });
 *   await service.enqueue([{ type: 'identify', userId: 'u1', traits: { email: 'a@example.com' } }]);
 *   await service.stop();
 *
 * Everything here is what the CLI's `start`, `preview` and `emulator` commands use.
 */
import { pino, type Logger } from 'pino';
import type { z } from 'zod';
import { type configSchema, loadConfig, type Config, type ConfigOverrides } from './config/index.js';
import { compileDestination, type DestinationConfig } from './destination/index.js';
import { previewMessage, type MessagePreview } from './preview/index.js';
import { startService, type RunningService } from './service/index.js';

/** Settings as written in a config file (docs/configuration.md); whatever is left out takes its default. */
export type ConfigInput = z.input<typeof configSchema>;

export interface StartOptions {
  /**
   * The configuration, in any shape `start --config` takes (docs/configuration.md), as an object or JSON / YAML
   * text; default: one source, one Segment-preset destination, the built-in emulator as Klaviyo.
   */
  config?: ConfigInput | Record<string, unknown> | unknown[] | string;
  /** What the CLI's flags and environment set (apiKey, klaviyoUrl, port, writeKey, …), applied over `config`. */
  overrides?: ConfigOverrides;
  /** A pino logger for the service's logs; default: none. */
  logger?: Logger;
}

/** A service running in this process: ingest (HTTP and `enqueue`), delivery workers, admin API and dashboard. */
export type Service = RunningService;

/**
 * Start the service in this process, as `klaviyo-destination start` does: it listens on `config.port` (0 picks a
 * free port; `service.url` says which) and delivers until `service.stop()`. Throws a ConfigFileError that names
 * every bad setting.
 */
export async function start(options: StartOptions = {}): Promise<Service> {
  const document = options.config ?? {};
  const config = loadConfig(document, options.overrides);
  return startService(config, options.logger ?? pino({ level: 'silent' }), { source: { document, overrides: options.overrides ?? {} } });
}

/**
 * What each message would become, alone: the actions it matches, their payloads and the Klaviyo requests. Sends
 * nothing. `destination`: any shape `start` takes (its first destination is used), e.g. a destination entry
 * (preset, subscriptions, extends, settings); default: Segment's.
 */
export async function preview(messages: unknown[], destination: DestinationConfig | Record<string, unknown> | unknown[] = {}): Promise<MessagePreview[]> {
  const compiled = compileDestination(loadConfig(destination).destinations[0]);
  return Promise.all(messages.map((m) => previewMessage(compiled, m)));
}

export { loadConfig, parseConfig, loadConfigFile, ConfigFileError } from './config/index.js';
export type { Config, ConfigOverrides };
export type { EnqueueResult } from './ingest/enqueue.js';
export type { MessagePreview } from './preview/index.js';
export type { DestinationConfig } from './destination/index.js';
/** The Klaviyo emulator (`klaviyo-destination emulator`): the revision's endpoints, validation, limits and state. */
export { startEmulator, type EmulatorOptions, type EmulatorSnapshot } from './emulator/index.js';
