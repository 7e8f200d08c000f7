import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

/** One logger per hub instance; modules take a child (`logger.child({ module: 'tickets' })`). */
export function createLogger(
  level: LoggerOptions['level'] = 'info',
  destination?: DestinationStream,
): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'gridhub' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'secret', 'token', 'password'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
