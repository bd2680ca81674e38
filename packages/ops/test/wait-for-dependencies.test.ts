import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DependencyTimeoutError, portAnswers, waitForDependencies } from '../src/index.ts';

function captureLogs() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, destination) };
}

const servers: net.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A port nothing listens on, and a way to start listening on it later. */
async function closedPort(): Promise<{ port: number; open: () => Promise<void> }> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return {
    port,
    open: async () => {
      const server = net.createServer((socket) => socket.destroy());
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
  };
}

describe('waitForDependencies', () => {
  it('returns at once, without a line, when everything answers', async () => {
    const { lines, logger } = captureLogs();
    await waitForDependencies({ postgres: async () => {}, kafka: async () => {} }, logger);
    expect(lines).toEqual([]);
  });

  it('waits for a dependency that comes up later: two info lines, nothing louder', async () => {
    const { lines, logger } = captureLogs();
    const { port, open } = await closedPort();
    setTimeout(() => void open(), 600);
    const started = Date.now();
    await waitForDependencies({ postgres: async () => {}, source: portAnswers(`https://127.0.0.1:${port}`) }, logger, { intervalMs: 100 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [30, 'waiting for dependencies'],
      [30, 'dependencies answer'],
    ]);
    expect(lines[0]?.waitingFor).toEqual([expect.stringMatching(/^source: .*ECONNREFUSED/)]);
  });

  it('gives up after the timeout, naming what did not answer and why', async () => {
    const { logger } = captureLogs();
    const waiting = waitForDependencies({ ok: async () => {}, kafka: () => Promise.reject(new Error('no broker answers')) }, logger, { timeoutMs: 300, intervalMs: 50 });
    await expect(waiting).rejects.toBeInstanceOf(DependencyTimeoutError);
    await expect(waiting).rejects.toThrow(/within 300 ms from kafka: no broker answers$/);
  });
});
