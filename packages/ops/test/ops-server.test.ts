import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildOpsServer } from '../src/index.ts';

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

describe('buildOpsServer /health/ready', () => {
  it('is 503 while starting without a warning, and warns once a dependency that answered is lost', async () => {
    const { lines, logger } = captureLogs();
    let kafkaUp = false;
    const app = buildOpsServer({
      logger,
      registry: new Registry(),
      readiness: {
        postgres: async () => {},
        kafka: async () => {
          if (!kafkaUp) throw new Error('producer not connected');
        },
      },
    });
    try {
      const ready = async () => {
        const response = await app.inject({ url: '/health/ready' });
        return { status: response.statusCode, checks: response.json<{ checks: Record<string, string> }>().checks };
      };
      const failures = () => lines.filter((line) => line.msg === 'readiness check failed').map((line) => line.level);

      expect(await ready()).toEqual({ status: 503, checks: { postgres: 'ok', kafka: 'failing' } });
      expect(failures()).toEqual([20]);

      kafkaUp = true;
      expect(await ready()).toEqual({ status: 200, checks: { postgres: 'ok', kafka: 'ok' } });

      kafkaUp = false;
      expect(await ready()).toEqual({ status: 503, checks: { postgres: 'ok', kafka: 'failing' } });
      expect(failures()).toEqual([20, 40]);
    } finally {
      await app.close();
    }
  });
});
