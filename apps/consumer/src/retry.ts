import { setTimeout as sleep } from 'node:timers/promises';

export interface BackoffPolicy {
  initialMs: number;
  factor: number;
  maxMs: number;
  /** Attempts in all, the first included. */
  attempts: number;
}

/** Network errors and 5xx: factor 1.5 from 200 ms, capped at 10 s, about two minutes in all. */
export const transientBackoff: BackoffPolicy = { initialMs: 200, factor: 1.5, maxMs: 10_000, attempts: 20 };

/** Delay before attempt `attempt` (1-based retry count), with ±50 % jitter. */
export function backoffDelay(policy: BackoffPolicy, attempt: number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** (attempt - 1));
  return Math.round(base * (0.5 + Math.random()));
}

/**
 * Runs `work` until it succeeds, `shouldRetry` says no, or the attempts run out; the last
 * error is thrown. `onRetry` hears about every failure that will be retried.
 */
export async function withRetry<T>(
  work: () => Promise<T>,
  policy: BackoffPolicy,
  shouldRetry: (error: unknown) => boolean,
  onRetry: (error: unknown, attempt: number, delayMs: number) => void = () => {},
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= policy.attempts || !shouldRetry(error)) throw error;
      const delay = backoffDelay(policy, attempt);
      onRetry(error, attempt, delay);
      await sleep(delay);
    }
  }
}
