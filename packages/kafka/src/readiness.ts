import type { Kafka } from './create-kafka.ts';

export interface KafkaReadiness {
  /** Resolves when the brokers answered a metadata request for the topics; throws when not. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A readiness check that asks the brokers for the metadata of `topics` (or, when there are none,
 * for the list of topics), so an app's `/health/ready`
 * turns 503 while Kafka is unreachable, not only before its client first connected. One
 * admin connection is kept; an answer is reused for `cacheMs`, so frequent probes do not
 * become frequent requests.
 */
export function kafkaReadiness(kafka: Kafka, topics: readonly string[], { timeoutMs = 2_000, cacheMs = 5_000 } = {}): KafkaReadiness {
  const admin = kafka.admin();
  let connected: Promise<void> | undefined;
  let last: { answer: Promise<void>; at: number } | undefined;

  const ask = async () => {
    connected ??= admin.connect().catch((error: unknown) => {
      connected = undefined;
      throw error;
    });
    await connected;
    if (topics.length === 0) {
      await admin.listTopics({ timeout: timeoutMs });
      return;
    }
    const answered = await admin.fetchTopicMetadata({ topics: [...topics], timeout: timeoutMs });
    for (const topic of topics) {
      if (!answered.some((metadata) => metadata.name === topic && metadata.partitions.length > 0)) throw new Error(`topic ${topic} has no partitions`);
    }
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
