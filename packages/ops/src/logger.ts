import pino, { type Logger, type LoggerOptions } from 'pino';

/** Fields that hold personal data or credentials: never written to a log line. */
export const redactedPaths = [
  'email',
  'phone',
  'token',
  'authorization',
  '*.email',
  '*.phone',
  '*.name',
  '*.token',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'body.email',
  'body.phone',
  'body.name',
];

export interface LoggerSettings {
  app: string;
  level: string;
  /** Per-call context (tenant, trace id) added to every line. */
  mixin?: () => object;
  /** Where lines go; defaults to stdout, pretty-printed only when a terminal is attached. */
  destination?: pino.DestinationStream;
}

/** The pino options every app uses: JSON lines, ISO time, PII redacted. */
export function loggerOptions({ app, level, mixin }: LoggerSettings): LoggerOptions {
  return {
    level,
    base: { app },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactedPaths, censor: '[redacted]' },
    ...(mixin ? { mixin } : {}),
  };
}

/** A pino logger: JSON lines, or pino-pretty when stdout is a terminal. */
export function createLogger(settings: LoggerSettings): Logger {
  const options = loggerOptions(settings);
  if (settings.destination) return pino(options, settings.destination);
  if (process.stdout.isTTY) return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } });
  return pino(options);
}
