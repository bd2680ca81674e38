import { Type, type Static, type TSchema } from 'typebox';
import { TENANT_HEADER } from './org-id.ts';
import { User } from './user.ts';

/** Header names of the internal Reference API. */
export const ReferenceHeaders = { tenantId: TENANT_HEADER, consumerId: 'x-consumer-id' } as const;

const Meta = Type.Object({ tenantId: Type.String({ format: 'uuid' }), retrievedAt: Type.String({ format: 'date-time' }) });

/** The single form's answer for a live entity of the type `entity` describes. */
export const referenceResponseOf = <T extends TSchema>(entity: T) => Type.Object({ data: entity, _meta: Meta });
export const ReferenceResponse = referenceResponseOf(User);
export type ReferenceResponse = Static<typeof ReferenceResponse>;

const id = Type.String({ format: 'uuid' });
const version = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

/** The answer for a deleted entity (HTTP 410): the source's tombstone. */
export const Tombstone = Type.Object({ id, version, deletedAt: Type.String({ format: 'date-time' }) }, { additionalProperties: false });
export type Tombstone = Static<typeof Tombstone>;

/**
 * Batch form: many ids of one tenant in one round trip. Each id is in exactly one of `data`
 * (live), `deleted` (a tombstone, with the version of the deletion) or `missing` (never existed
 * in this tenant, or its tombstone was purged).
 */
export const ReferenceBatchBody = Type.Object(
  { ids: Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
export const referenceBatchResponseOf = <T extends TSchema>(entity: T) =>
  Type.Object({
    data: Type.Array(entity),
    deleted: Type.Array(Type.Object({ id, version }, { additionalProperties: false })),
    missing: Type.Array(Type.String({ format: 'uuid' })),
    _meta: Meta,
  });
export const ReferenceBatchResponse = referenceBatchResponseOf(User);
export type ReferenceBatchResponse = Static<typeof ReferenceBatchResponse>;

/** Membership answer used by other services to authorise a user of a tenant. */
export const MembershipResponse = Type.Object({
  orgStatus: Type.String(),
  role: Type.Union([Type.String(), Type.Null()]),
  memberStatus: Type.Union([Type.String(), Type.Null()]),
});
export type MembershipResponse = Static<typeof MembershipResponse>;

/** One page of a tenant's `{id, version, deleted}` listing (live entities and tombstones), ordered by id. */
export const VersionPage = Type.Object({
  items: Type.Array(Type.Object({ id, version, deleted: Type.Boolean() }, { additionalProperties: false })),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type VersionPage = Static<typeof VersionPage>;
