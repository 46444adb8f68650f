import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Personal fields are redacted wherever they appear by these names;
 * the code logs ids, never personal data.
 */
export function createLogger(name: string, level: string): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['*.phone', '*.email', '*.dateOfBirth', '*.address', '*.citizenshipNo', '*.password', 'req.headers.authorization', 'req.headers.cookie'],
      censor: '[redacted]',
    },
  });
}
