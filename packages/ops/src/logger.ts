import pino, { type Logger, type LoggerOptions } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { Type } from 'typebox';
import { loadConfig, relayConfigSchema } from '@tenant-sync/config';

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

/** `json`: one JSON object a line, for machines. `pretty`: one readable line, for a person. */
export type LogFormat = 'json' | 'pretty';

export interface LoggerSettings {
  app: string;
  level: string;
  /** Defaults to LOG_FORMAT as the config package reads it, `json` when unset. */
  format?: LogFormat;
  /** Per-call context (tenant, trace id) added to every line. */
  mixin?: () => object;
  /** Where lines go; defaults to stdout. */
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

/**
 * A pino logger in the configured format. The format never depends on whether stdout is a
 * terminal: `nx run-many` pipes the apps' output, and a container has no terminal either.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const options = loggerOptions(settings);
  if ((settings.format ?? configuredLogFormat()) === 'pretty') {
    return pino(options, prettyLines(settings.app, settings.destination ?? pino.destination({ fd: 1, sync: true })));
  }
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

/**
 * Each event on one line, the app first, so three apps writing into one terminal stay apart:
 * `relay    [14:03:07.412] INFO: relay running {"topic":"user-events",…}`. A stack trace
 * follows its line, each of its lines under the app name too. Written synchronously and
 * in-process: no worker thread, nothing lost at exit.
 */
function prettyLines(app: string, destination: pino.DestinationStream): pino.DestinationStream {
  const prettify = prettyFactory({ singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app' });
  const prefix = `${app.padEnd(8)} `;
  return { write: (line: string) => destination.write(prefix + prettify(line).trimEnd().replaceAll('\n', `\n${prefix}`) + '\n') };
}

/** LOG_FORMAT, validated by the config package: every app schema shares its `logging` fields. */
function configuredLogFormat(): LogFormat {
  return loadConfig(Type.Pick(relayConfigSchema, ['LOG_FORMAT'])).LOG_FORMAT;
}
