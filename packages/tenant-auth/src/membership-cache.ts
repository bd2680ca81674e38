import type { OrgId } from '@tenant-sync/contracts';
/** What the system of record says about a subject in an organisation. */
export interface Membership {
  orgStatus: string;
  role: string | null;
  memberStatus: string | null;
}

export type LookupMembership = (orgId: OrgId, subject: string) => Promise<Membership | null>;

export interface CacheOptions<A extends unknown[]> {
  ttlMs: number;
  /** The cache key of a call's arguments: calls with equal keys share one answer. */
  keyOf: (...args: A) => string;
  maxEntries?: number;
  now?: () => number;
}

/**
 * Caches the answers of an authorisation look-up for `ttlMs`, so suspending an org or
 * removing a member takes effect within that time without a database or network round trip
 * on every request. Concurrent calls with one key share one look-up; failures are not cached.
 * At most `maxEntries` answers are kept, the oldest dropped first. The membership cache's own:
 * nothing else in the system caches an authorisation answer (the consumer's organisation check
 * is gone; the Reference API answers it on every fetch).
 */
export function cacheLookups<A extends unknown[], V>(
  lookup: (...args: A) => Promise<V>,
  { ttlMs, keyOf, maxEntries = 10_000, now = Date.now }: CacheOptions<A>,
): (...args: A) => Promise<V> {
  const entries = new Map<string, { answer: Promise<V>; expiresAt: number }>();
  return (...args) => {
    const key = keyOf(...args);
    const hit = entries.get(key);
    if (hit && hit.expiresAt > now()) return hit.answer;
    const answer = lookup(...args);
    entries.delete(key);
    entries.set(key, { answer, expiresAt: now() + ttlMs });
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    answer.catch(() => {
      if (entries.get(key)?.answer === answer) entries.delete(key);
    });
    return answer;
  };
}

/** `cacheLookups` for memberships, keyed by org and subject. */
export function cacheMemberships(lookup: LookupMembership, ttlMs: number, maxEntries = 10_000): LookupMembership {
  return cacheLookups(lookup, { ttlMs, maxEntries, keyOf: (orgId, subject) => `${orgId}\u0000${subject}` });
}
