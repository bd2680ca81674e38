import { setTimeout as sleep } from 'node:timers/promises';

/** How waits grow between attempts: every retry and every back-off of the apps follows one. */
export interface BackoffPolicy {
  initialMs: number;
  factor: number;
  maxMs: number;
  /** Attempts in all, the first included. */
  attempts: number;
}

/** Delay before retry `attempt` (1-based), with ±50 % jitter so instances do not retry in step. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** (attempt - 1));
  return Math.round(base * (0.5 + random()));
}

export interface RetryHooks {
  /** Hears about every failure that will be retried. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Waits between attempts; tests pass a fake. */
  sleep?: (ms: number) => Promise<unknown>;
  random?: () => number;
}

/**
 * Runs `work` until it succeeds, `shouldRetry` says no, or the attempts run out; the last
 * error is thrown.
 */
export async function withRetry<T>(
  work: () => Promise<T>,
  policy: BackoffPolicy,
  shouldRetry: (error: unknown) => boolean,
  { onRetry, sleep: wait = sleep, random }: RetryHooks = {},
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= policy.attempts || !shouldRetry(error)) throw error;
      const delay = backoffDelay(policy, attempt, random);
      onRetry?.(error, attempt, delay);
      await wait(delay);
    }
  }
}
