import { Type, type Static } from 'typebox';
import { User } from './user.ts';

/** Header names of the internal Reference API. */
export const ReferenceHeaders = { tenantId: 'x-tenant-id', consumerId: 'x-consumer-id' } as const;

export const ReferenceResponse = Type.Object({
  data: User,
  _meta: Type.Object({ tenantId: Type.String({ format: 'uuid' }), retrievedAt: Type.String({ format: 'date-time' }) }),
});
export type ReferenceResponse = Static<typeof ReferenceResponse>;

/** Batch form: many ids of one tenant in one round trip; ids not found are listed as missing. */
export const ReferenceBatchBody = Type.Object(
  { ids: Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
export const ReferenceBatchResponse = Type.Object({
  data: Type.Array(User),
  missing: Type.Array(Type.String({ format: 'uuid' })),
  _meta: Type.Object({ tenantId: Type.String({ format: 'uuid' }), retrievedAt: Type.String({ format: 'date-time' }) }),
});
export type ReferenceBatchResponse = Static<typeof ReferenceBatchResponse>;

/** Membership answer used by other services to authorise a user of a tenant. */
export const MembershipResponse = Type.Object({
  orgStatus: Type.String(),
  role: Type.Union([Type.String(), Type.Null()]),
  memberStatus: Type.Union([Type.String(), Type.Null()]),
});
export type MembershipResponse = Static<typeof MembershipResponse>;
