import type { Kafka } from './create-kafka.ts';

export interface KafkaReadiness {
  /** Resolves when the brokers answered a metadata request for the topic; throws when not. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A readiness check that asks the brokers for `topic`'s metadata, so an app's `/health/ready`
 * turns 503 while Kafka is unreachable, not only before its client first connected. One
 * admin connection is kept; an answer is reused for `cacheMs`, so frequent probes do not
 * become frequent requests.
 */
export function kafkaReadiness(kafka: Kafka, topic: string, { timeoutMs = 2_000, cacheMs = 5_000 } = {}): KafkaReadiness {
  const admin = kafka.admin();
  let connected: Promise<void> | undefined;
  let last: { answer: Promise<void>; at: number } | undefined;

  const ask = async () => {
    connected ??= admin.connect().catch((error: unknown) => {
      connected = undefined;
      throw error;
    });
    await connected;
    const [metadata] = await admin.fetchTopicMetadata({ topics: [topic], timeout: timeoutMs });
    if (!metadata || metadata.partitions.length === 0) throw new Error(`topic ${topic} has no partitions`);
  };

  return {
    check() {
      if (last && Date.now() - last.at < cacheMs) return last.answer;
      const answer = ask();
      last = { answer, at: Date.now() };
      return answer;
    },
    async close() {
      if (connected) await admin.disconnect().catch(() => {});
    },
  };
}
