/**
 * Headers the consumer adds to a message it dead-letters, read back by the operator CLI. The
 * original headers (tenant, event type, traceparent) are kept beside them.
 */
export const DeadLetterHeaders = {
  /** The reason in words. */
  reason: 'dlq-reason',
  /** A short, stable code of the reason (see `DeadLetterCode`). */
  code: 'dlq-code',
  originalTopic: 'dlq-original-topic',
  originalPartition: 'dlq-original-partition',
  originalOffset: 'dlq-original-offset',
} as const;

/** Every header name the consumer adds when it dead-letters; a replay drops them. */
export const isDeadLetterHeader = (name: string) => name.startsWith('dlq-');
