/**
 * The one definition of a valid tenant id, shared by every checkpoint: the client, the inbound
 * auth plugin, the mTLS listener, the relay before it publishes and the consumer on receipt.
 */
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` is a UUID string, the only shape an org id can take. */
export function isOrgId(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value);
}

declare const checkedOrgId: unique symbol;

/**
 * A tenant id that was checked where it came in (a token, a header, a message, a setting) and
 * is in its one spelling, lower case. Tenant transactions take only this type, so an id that
 * skipped the check does not compile.
 */
export type OrgId = string & { readonly [checkedOrgId]: true };

/** `value` as an `OrgId`, or null when it cannot be one. */
export function parseOrgId(value: unknown): OrgId | null {
  return isOrgId(value) ? (value.toLowerCase() as OrgId) : null;
}

/** The reserved default tenant seeded by setup. */
export const DEFAULT_ORG_ID = '00000000-0000-0000-0000-000000000000';
/** The second demo tenant seeded by setup. */
export const DEMO_ORG_ID = '11111111-1111-1111-1111-111111111111';

/** The request and message header that names the tenant, on every wire (HTTP and Kafka). */
export const TENANT_HEADER = 'x-tenant-id';
