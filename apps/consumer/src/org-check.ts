import type { ReferenceClient } from './reference-client.ts';

/**
 * Whether an organisation is ACTIVE at the source, asked over the Reference API and cached
 * for `ttlMs` (answers of both kinds; concurrent asks of one org share one call). Errors are
 * not cached: a 401 reaches the caller, which raises the credential alert.
 */
export function createOrgCheck(orgActive: ReferenceClient['orgActive'], ttlMs: number, now: () => number = Date.now) {
  const answers = new Map<string, { active: Promise<boolean>; until: number }>();
  return (orgId: string): Promise<boolean> => {
    const key = orgId.toLowerCase();
    const cached = answers.get(key);
    if (cached && cached.until > now()) return cached.active;
    const active = orgActive(key);
    answers.set(key, { active, until: now() + ttlMs });
    active.catch(() => {
      if (answers.get(key)?.active === active) answers.delete(key);
    });
    return active;
  };
}

export type OrgCheck = ReturnType<typeof createOrgCheck>;
