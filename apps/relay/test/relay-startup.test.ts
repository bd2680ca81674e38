import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, inject } from 'vitest';
import { freePort, startKafkaBroker, type RunningKafkaBroker } from '@tenant-sync/local-infra';
import { startApp, type AppProcess } from '@tenant-sync/testing';

const infra = inject('infra');

/** `npm start` launches the apps next to a broker that is still starting: they wait, quietly. */
describe('relay startup', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('waits for a broker that starts seconds later, then becomes ready without a warning or error line', { timeout: 120_000 }, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'relay-startup-kafka-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const brokerOptions = { dataDir, port: await freePort(), controllerPort: await freePort(), logFile: path.join(dataDir, 'broker.log') };
    const topic = `relay-startup-${Date.now()}`;

    const starting = startApp(
      'relay',
      {
        LOG_FORMAT: 'json',
        RELAY_DATABASE_URL: infra.relayAppUrl,
        KAFKA_BROKERS: `127.0.0.1:${brokerOptions.port}`,
        KAFKA_TOPIC_TEMPLATE: `${topic}-{type}`,
      },
      await freePort(),
    );
    await sleep(3_000);
    const broker: RunningKafkaBroker = await startKafkaBroker(brokerOptions);
    cleanups.push(() => broker.stop());
    const relay: AppProcess = await starting;
    cleanups.push(() => relay.stop(5_000));

    const lines = relay.logLines();
    expect(lines.filter((line) => typeof line.level !== 'number' || line.level >= 40)).toEqual([]);
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['waiting for dependencies', 'dependencies answer', 'relay running']));
    expect(lines.find((line) => line.msg === 'waiting for dependencies')?.waitingFor).toEqual([expect.stringMatching(/^kafka: /)]);
  });
});
