/**
 * The relay's lag reader: a child process of the relay (`watch.ts`) that reads the
 * consumer groups' lag with the Kafka admin API and sends it to the relay. The relay sends it
 * the brokers, the Kafka security and the groups first, then the topics as it meets them; it
 * exits when the relay is gone (its IPC channel closes).
 */
import { createKafka } from '@tenant-sync/kafka';
import { createLogger } from '@tenant-sync/ops';
import { startLagReads, type LagReaderStart } from './read.ts';

let topics: readonly string[] = [];
let reads: ReturnType<typeof startLagReads> | undefined;

process.on('message', (message: Partial<LagReaderStart> & { topics?: unknown }) => {
  if (Array.isArray(message.topics)) topics = message.topics.filter((topic): topic is string => typeof topic === 'string');
  if (message.kafka && message.groups && !reads) {
    const logger = createLogger({ app: 'relay-lag-reader', level: message.logLevel ?? 'info' });
    const kafka = createKafka({ ...message.kafka, clientId: 'tenant-sync-relay-lag', logger });
    reads = startLagReads({ kafka, groups: message.groups, topics: () => topics, logger, onRead: (reading) => process.send?.(reading) });
  }
});
const exit = () => void (reads?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
process.once('disconnect', exit);
process.once('SIGTERM', exit);
