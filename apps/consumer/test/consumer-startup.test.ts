import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, inject } from 'vitest';
import { freePort, startKafkaBroker, type RunningKafkaBroker } from '@tenant-sync/local-infra';
import { startApp, type AppProcess } from '@tenant-sync/testing';

const infra = inject('infra');

/**
 * `npm start` launches the consumer before its broker and the source's Reference API answer:
 * it waits for both, quietly, then joins its group.
 */
describe('consumer startup', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('waits for a broker and a source that start seconds later, then becomes ready without a warning or error line', { timeout: 150_000 }, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'consumer-startup-kafka-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const brokerOptions = { dataDir, port: await freePort(), controllerPort: await freePort(), logFile: path.join(dataDir, 'broker.log') };
    const internalPort = await freePort();
    const topic = `consumer-startup-${randomUUID()}`;
    const quietLines = (app: AppProcess) => app.logLines().filter((line) => typeof line.level !== 'number' || line.level >= 40);

    const starting = startApp(
      'consumer',
      {
        LOG_FORMAT: 'json',
        CONSUMER_DATABASE_URL: infra.consumerAppUrl,
        KAFKA_BROKERS: `127.0.0.1:${brokerOptions.port}`,
        KAFKA_TOPIC_TEMPLATE: `${topic}-{type}`,
        KAFKA_GROUP_ID: `consumer-startup-${randomUUID()}`,
        SOURCE_INTERNAL_URL: `https://localhost:${internalPort}`,
        PUBLIC_PORT: String(await freePort()),
      },
      await freePort(),
    );
    await sleep(2_000);
    const broker: RunningKafkaBroker = await startKafkaBroker(brokerOptions);
    cleanups.push(() => broker.stop());
    await sleep(1_000);
    const source = await startApp(
      'source',
      { LOG_FORMAT: 'json', SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(await freePort()), INTERNAL_PORT: String(internalPort) },
      await freePort(),
    );
    cleanups.push(() => source.stop(5_000));
    const consumer = await starting;
    cleanups.push(() => consumer.stop(5_000));

    expect(quietLines(consumer)).toEqual([]);
    expect(quietLines(source)).toEqual([]);
    const messages = consumer.logLines().map((line) => line.msg);
    expect(messages).toEqual(expect.arrayContaining(['waiting for dependencies', 'dependencies answer', 'consumer running']));
    const waitingFor = consumer.logLines().find((line) => line.msg === 'waiting for dependencies')?.waitingFor as string[];
    expect(waitingFor.map((reason) => reason.split(':')[0]).sort()).toEqual(['kafka', 'source']);
  });
});
