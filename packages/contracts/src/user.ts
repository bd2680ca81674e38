import { Type, type Static } from 'typebox';
import { pageOf } from './page-cursor.ts';

const uuid = Type.String({ format: 'uuid' });
// PostgreSQL text cannot hold NUL: refused as input here rather than failing in the database.
const noNul = '^[^\\u0000]*$';
const name = Type.String({ minLength: 1, maxLength: 200, pattern: noNul });
const email = Type.String({ format: 'email', maxLength: 320, pattern: noNul });
const phone = Type.String({ pattern: '^\\+?[0-9 ()-]{3,32}$' });

/** A user as every API returns it. */
export const User = Type.Object(
  {
    id: uuid,
    orgId: uuid,
    name,
    email,
    phone: Type.Union([phone, Type.Null()]),
    version: Type.Integer({ minimum: 1 }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'User', additionalProperties: false },
);
export type User = Static<typeof User>;

export const CreateUserBody = Type.Object(
  { name, email, phone: Type.Optional(Type.Union([phone, Type.Null()])) },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object(
  { name: Type.Optional(name), email: Type.Optional(email), phone: Type.Optional(Type.Union([phone, Type.Null()])) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateUserBody = Static<typeof UpdateUserBody>;

export const UserPage = pageOf(User);
export type UserPage = Static<typeof UserPage>;
