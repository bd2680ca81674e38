/** What the system of record says about a subject in an organisation. */
export interface Membership {
  orgStatus: string;
  role: string | null;
  memberStatus: string | null;
}

export type LookupMembership = (orgId: string, subject: string) => Promise<Membership | null>;

/**
 * Caches membership answers for `ttlMs`, so suspending an org or removing a member takes
 * effect within that time without a database round trip on every request.
 */
export function cacheMemberships(lookup: LookupMembership, ttlMs: number, maxEntries = 10_000): LookupMembership {
  const entries = new Map<string, { value: Membership | null; expiresAt: number }>();
  return async (orgId, subject) => {
    const key = `${orgId}\u0000${subject}`;
    const now = Date.now();
    const hit = entries.get(key);
    if (hit && hit.expiresAt > now) return hit.value;
    const value = await lookup(orgId, subject);
    entries.delete(key);
    entries.set(key, { value, expiresAt: now + ttlMs });
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    return value;
  };
}
