import { Type, type Static } from 'typebox';
import { pageOf } from './page-cursor.ts';

const uuid = Type.String({ format: 'uuid' });
// PostgreSQL text cannot hold NUL: refused as input here rather than failing in the database.
const noNul = '^[^\\u0000]*$';
const name = Type.String({ minLength: 1, maxLength: 200, pattern: noNul });
const description = Type.String({ maxLength: 2000, pattern: noNul });

/** A team as every API returns it. */
export const Team = Type.Object(
  {
    id: uuid,
    orgId: uuid,
    name,
    description: Type.Union([description, Type.Null()]),
    version: Type.Integer({ minimum: 1 }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Team', additionalProperties: false },
);
export type Team = Static<typeof Team>;

export const CreateTeamBody = Type.Object({ name, description: Type.Optional(Type.Union([description, Type.Null()])) }, { additionalProperties: false });
export type CreateTeamBody = Static<typeof CreateTeamBody>;

export const UpdateTeamBody = Type.Object(
  { name: Type.Optional(name), description: Type.Optional(Type.Union([description, Type.Null()])) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateTeamBody = Static<typeof UpdateTeamBody>;

/** A page of a keyset-paginated listing of teams. */
export const TeamPage = pageOf(Team);
export type TeamPage = Static<typeof TeamPage>;
