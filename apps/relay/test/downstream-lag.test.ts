import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it, inject } from 'vitest';
import { createKafka, ensureTopics } from '@tenant-sync/kafka';
import { eventually } from '@tenant-sync/testing';
import { createAppliedRate, createProgressTracker, lagOf, type DownstreamReading } from '../src/downstream-lag/read.ts';
import { watchDownstreamLag } from '../src/downstream-lag/watch.ts';

const offsets = (committed: Record<string, bigint>, high: Record<string, bigint>) => ({
  committed: new Map(Object.entries(committed)),
  high: new Map(Object.entries(high)),
});

describe('lagOf', () => {
  it('counts from each committed offset to its high watermark, and nothing of a partition the group never committed on', () => {
    expect(lagOf(offsets({ 't:0': 3n, 't:1': 10n }, { 't:0': 5n, 't:1': 10n, 't:2': 1_000n }))).toBe(2);
  });
});

describe('createProgressTracker', () => {
  it('counts a group that is behind as consuming while its offsets move, and not once they stood still for the stall time', () => {
    let now = 0;
    const tracker = createProgressTracker(10_000, () => now);
    expect(tracker.consuming('g', offsets({ 't:0': 3n }, {}), 50)).toBe(true);
    now = 9_000;
    expect(tracker.consuming('g', offsets({ 't:0': 3n }, {}), 50)).toBe(true);
    now = 10_000;
    expect(tracker.consuming('g', offsets({ 't:0': 3n }, {}), 50)).toBe(false);
    now = 11_000;
    expect(tracker.consuming('g', offsets({ 't:0': 4n }, {}), 49)).toBe(true);
  });

  it('counts a group that is not behind as consuming, and starts its stall time afresh', () => {
    let now = 0;
    const tracker = createProgressTracker(10_000, () => now);
    expect(tracker.consuming('g', offsets({ 't:0': 3n }, {}), 0)).toBe(true);
    now = 20_000;
    expect(tracker.consuming('g', offsets({ 't:0': 3n }, {}), 0)).toBe(true);
    now = 25_000;
    expect(tracker.consuming('g', offsets({ 't:0': 3n }, {}), 7)).toBe(true);
  });
});

describe('createAppliedRate', () => {
  it('gives the messages a second a group committed past, over the partitions it committed on both times', () => {
    let now = 0;
    const applied = createAppliedRate(() => now, 1_000);
    expect(applied('g', new Map([['t:0', 100n]]))).toBeUndefined();
    now = 500;
    // 't:1' is new: its whole offset was not committed in these 500 ms.
    expect(applied('g', new Map([['t:0', 600n], ['t:1', 10_000n]]))).toBe(1_000);
    // Each group is its own.
    expect(applied('h', new Map([['t:0', 0n]]))).toBeUndefined();
  });

  it('measures over the readings of the last window, so a commit that came in one step counts over the whole window', () => {
    let now = 0;
    const applied = createAppliedRate(() => now, 1_000);
    applied('g', new Map([['t:0', 0n]]));
    now = 500;
    expect(applied('g', new Map([['t:0', 1_000n]]))).toBe(2_000);
    now = 1_000;
    // Nothing committed in the last 500 ms: over the window, 1,000 a second.
    expect(applied('g', new Map([['t:0', 1_000n]]))).toBe(1_000);
    now = 1_500;
    // The reading at 0 is out of the window; the one at 500 is its start.
    expect(applied('g', new Map([['t:0', 1_500n]]))).toBe(500);
  });
});

describe('watchDownstreamLag', () => {
  const infra = inject('infra');
  const logger = pino({ level: 'silent' });

  it("reads a group's lag on the real broker in a child process, ignoring a group that never committed, and starts a new reader when it dies", async () => {
    const kafka = createKafka({ brokers: infra.brokers, clientId: 'downstream-lag-test', logger });
    const topic = `downstream-lag-${randomUUID()}`;
    const group = `downstream-lag-${randomUUID()}`;
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
    const producer = kafka.producer({ kafkaJS: { acks: -1 } });
    await producer.connect();
    await producer.send({ topic, messages: [0, 1, 2, 3, 4].map((n) => ({ value: String(n) })) });
    await producer.disconnect();

    // The group reads three messages and commits past them.
    const consumer = kafka.consumer({ kafkaJS: { groupId: group, fromBeginning: true, autoCommit: false } });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const committed = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (message.offset !== '2') return;
          await consumer.commitOffsets([{ topic, partition: 0, offset: '3' }]);
          resolve();
        },
      });
    });
    await committed;
    await consumer.disconnect();

    const reads: DownstreamReading[] = [];
    const lag = watchDownstreamLag({ kafka: { brokers: infra.brokers }, groups: [group, `never-${group}`], topics: () => [topic], logger, onRead: (value) => reads.push(value) });
    try {
      await eventually(async () => expect(reads.length).toBeGreaterThan(1), 15_000);
      expect(lag.current()).toBe(2);
      // The first reading of the group has no rate; the next says it applied nothing since.
      expect(reads.slice(0, 2)).toEqual([{ lag: 2 }, { lag: 2, appliedPerSecond: 0 }]);

      // The reader runs in a process of its own: when it dies (librdkafka may abort it), the lag
      // counts as none, this process goes on, and a new reader takes over.
      const first = lag.readerPid()!;
      process.kill(first, 'SIGKILL');
      await eventually(async () => expect(lag.current()).toBe(0), 5_000, 20);
      await eventually(async () => expect(lag.readerPid()).not.toBe(first), 15_000);
      await eventually(async () => expect(lag.current()).toBe(2), 15_000);
    } finally {
      await lag.stop();
    }
    expect(lag.readerPid()).toBeUndefined();
  }, 90_000);
});
