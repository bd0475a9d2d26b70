/** pino JSON logs; anything that could carry a key is redacted by path as a second line of defence. */
import { pino, type Logger } from 'pino';

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    redact: {
      paths: ['apiKey', '*.apiKey', 'headers.authorization', '*.headers.authorization', 'req.headers.authorization', 'writeKey', 'adminToken'],
      censor: '[redacted]',
    },
  });
}
