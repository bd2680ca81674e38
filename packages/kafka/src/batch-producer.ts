import { RdKafka } from '@confluentinc/kafka-javascript';
import { connectionProperties, type KafkaOptions } from './create-kafka.ts';

/** One message of a batch: its topic, its key (the partition is the key's), its value and headers. */
export interface OutgoingMessage {
  topic: string;
  key: string;
  value: string;
  headers: Readonly<Record<string, string>>;
}

export interface BatchProducer {
  connect(): Promise<void>;
  /**
   * Hands every message to the client at once and resolves when the broker acknowledged all of
   * them; rejects with the first failed delivery, once every report is in.
   */
  send(messages: readonly OutgoingMessage[]): Promise<void>;
  /** Waits for the messages in flight (at most 5 s), then disconnects. */
  disconnect(): Promise<void>;
}

/** librdkafka's log severities (syslog's), as pino levels. */
const LEVELS = ['fatal', 'fatal', 'fatal', 'error', 'warn', 'info', 'info', 'debug'] as const;

/** A batch waiting for its delivery reports. */
interface PendingBatch {
  reports: number;
  failure: Error | undefined;
  settle: () => void;
}

/**
 * A producer of whole batches on librdkafka's own API. The kafkajs-compatible `sendBatch`
 * makes a promise, an opaque object and a record of metadata for every message and merges
 * them per partition afterwards: a quarter of everything the relay allocated at 2,000
 * events/s (BENCHMARKS.md). Here a batch is one counter that each delivery report counts down.
 *
 * The client's settings are the compatible producer's, so that nothing but the allocation
 * changes: the partitioner `murmur2_random` (the Java clients' hash of the key, which keeps
 * every entity on the partition it always had), 5 retries, and its socket and back-off
 * timeouts; `properties` go on top.
 */
export function createBatchProducer(options: KafkaOptions, properties: Record<string, string | number | boolean>): BatchProducer {
  const logger = options.logger.child({ component: 'kafka' });
  const client = new RdKafka.Producer({
    partitioner: 'murmur2_random',
    retries: 5,
    'retry.backoff.ms': 300,
    'retry.backoff.max.ms': 30_000,
    'socket.timeout.ms': 30_000,
    'socket.connection.setup.timeout.ms': 11_000,
    log_level: 4,
    // The KAFKA_PROP_<name> pass-through, among the connection properties, may change any of these.
    ...connectionProperties(options.security),
    ...properties,
    'bootstrap.servers': options.brokers,
    'client.id': options.clientId,
    dr_cb: true,
  });
  client.on('event.log', (entry: { severity: number; fac: string; message: string }) => {
    logger[LEVELS[entry.severity] ?? 'info']({ fac: entry.fac }, entry.message);
  });
  client.on('event.error', (error: RdKafka.LibrdKafkaError) => logger.error({ err: error }, 'Kafka client error'));
  client.on('delivery-report', (error: RdKafka.LibrdKafkaError | null | undefined, report: RdKafka.DeliveryReport) => {
    const batch = report.opaque as PendingBatch;
    if (error) batch.failure ??= new Error(`delivery to ${report.topic} failed: ${error.message}`, { cause: error });
    batch.reports -= 1;
    if (batch.reports === 0) batch.settle();
  });

  return {
    connect: () =>
      new Promise<void>((resolve, reject) => {
        client.connect({}, (error) => {
          if (error) return reject(new Error(`Kafka producer could not connect: ${error.message}`, { cause: error }));
          // Delivery reports are polled on librdkafka's thread, not by a timer of the event loop.
          client.setPollInBackground(true);
          resolve();
        });
      }),

    send(messages: readonly OutgoingMessage[]): Promise<void> {
      if (messages.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const batch: PendingBatch = {
          reports: messages.length,
          failure: undefined,
          settle: () => (batch.failure ? reject(batch.failure) : resolve()),
        };
        for (let n = 0; n < messages.length; n++) {
          const { topic, key, value, headers } = messages[n]!;
          const native: RdKafka.MessageHeader[] = [];
          for (const name in headers) native.push({ [name]: headers[name]! });
          try {
            client.produce(topic, -1, Buffer.from(value), key, 0, batch, native);
          } catch (error) {
            // Refused before it was queued (the queue full, the client closed): no report will
            // come for it or for the messages after it.
            batch.failure ??= error as Error;
            batch.reports -= messages.length - n;
            if (batch.reports === 0) batch.settle();
            return;
          }
        }
      });
    },

    disconnect: () =>
      new Promise<void>((resolve) => {
        if (!client.isConnected()) return resolve();
        // The native disconnect flushes first.
        client.disconnect(5_000, () => resolve());
      }),
  };
}
