import { Type } from 'typebox';
import { MembershipResponse, ReferenceBatchBody, ReferenceBatchResponse, ReferenceResponse, Tombstone, VersionPage } from '@tenant-sync/contracts';
import { ErrorResponse } from '@tenant-sync/http';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };

export const getReferenceSchema = {
  params: Type.Object({ type: Type.String({ maxLength: 50 }), id: Type.String({ format: 'uuid' }) }),
  response: { 200: ReferenceResponse, 410: Tombstone, ...errors },
};

export const batchReferenceSchema = {
  params: Type.Object({ type: Type.String({ maxLength: 50 }) }),
  body: ReferenceBatchBody,
  response: { 200: ReferenceBatchResponse, ...errors },
};

export const listVersionsSchema = {
  params: Type.Object({ type: Type.String({ maxLength: 50 }) }),
  querystring: Type.Object(
    {
      limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1_000 }),
      after: Type.Optional(Type.String({ format: 'uuid' })),
    },
    { additionalProperties: false },
  ),
  response: { 200: VersionPage, ...errors },
};

export const membershipSchema = {
  params: Type.Object({ subject: Type.String({ minLength: 1, maxLength: 200 }) }),
  response: { 200: MembershipResponse, ...errors },
};

export const orgSchema = {
  response: {
    200: Type.Object({ id: Type.String({ format: 'uuid' }), status: Type.String() }),
    ...errors,
  },
};
