/**
 * The one place logging is set up. pino writes JSON lines (for log collectors); on a terminal, or with
 * LOG_FORMAT=text, each line is turned into plain text for a person. Anything that could carry a key is redacted by
 * path as a second line of defence, before either format sees it. Personal data (emails, phones, quoted values) is
 * masked in every line, in both formats, unless LOG_PERSONAL_DATA=true (./log-masking.ts).
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { maskingLogs, maskText, maskValue } from './log-masking.js';

export type LogFormat = 'json' | 'text';

/** LOG_FORMAT when set (json or text), else text on a terminal and JSON otherwise. */
export function logFormat(env: string | undefined = process.env.LOG_FORMAT, isTTY = Boolean(process.stdout.isTTY)): LogFormat {
  if (env === 'json' || env === 'text') return env;
  if (env) throw new Error(`LOG_FORMAT=${env}: use json or text`);
  return isTTY ? 'text' : 'json';
}

export interface LoggerOptions {
  /** Mask personal data (default: unless LOG_PERSONAL_DATA=true). */
  mask?: boolean;
  /** Where JSON lines go instead of stdout (tests). */
  destination?: DestinationStream;
}

export function createLogger(level = process.env.LOG_LEVEL ?? 'info', format: LogFormat = logFormat(), opts: LoggerOptions = {}): Logger {
  const mask = opts.mask ?? maskingLogs();
  const options: pino.LoggerOptions = {
    level,
    ...(mask
      ? {
          formatters: { log: (o: Record<string, unknown>) => maskValue(o) as Record<string, unknown> },
          hooks: {
            logMethod(args: unknown[], method: (...a: unknown[]) => void) {
              method.apply(
                this,
                args.map((a) => (typeof a === 'string' ? maskText(a) : a)),
              );
            },
          },
        }
      : {}),
    redact: {
      paths: ['apiKey', '*.apiKey', 'headers.authorization', '*.headers.authorization', 'req.headers.authorization', 'writeKey', 'adminToken'],
      censor: '[redacted]',
    },
  };
  if (opts.destination) return pino(options, opts.destination);
  return format === 'json' ? pino(options) : pino(options, textStream);
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** pino's own fields, shown as the line's time, level and message rather than as key=value. */
const OWN = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

/** One JSON log line as `12:00:01 INFO  message  key=value …`. */
export function formatLogLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json);
  } catch {
    return `${json}\n`;
  }
  const time = typeof o.time === 'number' ? new Date(o.time).toTimeString().slice(0, 8) : '';
  const level = (LEVELS[o.level as number] ?? String(o.level)).padEnd(5);
  const fields = Object.entries(o)
    .filter(([k]) => !OWN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`);
  return `${time} ${level} ${o.msg ?? ''}${fields.length ? `  ${fields.join(' ')}` : ''}\n`;
}

const textStream: DestinationStream = { write: (line: string) => void process.stdout.write(formatLogLine(line.trimEnd())) };
