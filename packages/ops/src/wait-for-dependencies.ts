import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { DependencyTimeoutError } from './errors.ts';
import type { ReadinessCheck } from './ops-server.ts';

export interface WaitOptions {
  /** Give up after this long: the app then stops with a DependencyTimeoutError. */
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Resolves once every check passes, asking again every `intervalMs`. An app calls it before it
 * connects, so starting next to a broker or database that is still coming up is one info
 * line, not a stream of connection errors. The checks should fail quietly: they run often.
 */
export async function waitForDependencies(
  checks: Record<string, ReadinessCheck>,
  logger: Logger,
  { timeoutMs = 120_000, intervalMs = 500 }: WaitOptions = {},
): Promise<void> {
  const started = Date.now();
  let announced = false;
  for (;;) {
    const failing = (
      await Promise.all(Object.entries(checks).map(([name, check]) => check().then(() => undefined, (error: unknown) => `${name}: ${(error as Error).message}`)))
    ).filter((reason) => reason !== undefined);
    if (failing.length === 0) break;
    if (Date.now() - started >= timeoutMs) throw new DependencyTimeoutError(`no answer within ${timeoutMs} ms from ${failing.join('; ')}`);
    if (!announced) logger.info({ waitingFor: failing }, 'waiting for dependencies');
    announced = true;
    await sleep(intervalMs);
  }
  if (announced) logger.info({ waitedMs: Date.now() - started }, 'dependencies answer');
}

/** A check that passes when something accepts TCP connections at the host and port of `url`. */
export function portAnswers(url: string, timeoutMs = 1_000): ReadinessCheck {
  const { hostname, port, protocol } = new URL(url);
  const target = { host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || (protocol === 'https:' ? 443 : 80)) };
  return () =>
    new Promise((resolve, reject) => {
      const socket = net.connect(target);
      socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`${url} did not answer within ${timeoutMs} ms`)));
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
}
