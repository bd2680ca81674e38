import { Type } from 'typebox';
import { MembershipResponse, ReferenceBatchBody, referenceBatchResponseOf, referenceResponseOf, Tombstone, VersionPage } from '@tenant-sync/contracts';
import { ErrorResponse } from '@tenant-sync/http';
import type { SyncedEntity } from '../../synced-entities.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };

/** The three routes' schemas of one synced entity type. */
export function referenceSchemas(entity: SyncedEntity) {
  return {
    get: {
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      response: { 200: referenceResponseOf(entity.schema), 410: Tombstone, ...errors },
    },
    batch: {
      body: ReferenceBatchBody,
      response: { 200: referenceBatchResponseOf(entity.schema), ...errors },
    },
    list: {
      querystring: Type.Object(
        {
          limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1_000 }),
          after: Type.Optional(Type.String({ format: 'uuid' })),
        },
        { additionalProperties: false },
      ),
      response: { 200: VersionPage, ...errors },
    },
  };
}

export const membershipSchema = {
  params: Type.Object({ subject: Type.String({ minLength: 1, maxLength: 200 }) }),
  response: { 200: MembershipResponse, ...errors },
};
