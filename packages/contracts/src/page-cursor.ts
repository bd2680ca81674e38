import { Type, type Static, type TSchema } from 'typebox';

/** A page of a keyset-paginated listing of `item`s. */
export const pageOf = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

/** Position after the last item of a page: the (created time, id) keyset of that item. */
export interface PagePosition {
  createdAt: string;
  id: string;
}

/** An opaque cursor for `position`. */
export function encodeCursor(createdAt: Date | string, id: string): string {
  return Buffer.from(JSON.stringify([new Date(createdAt).toISOString(), id])).toString('base64url');
}

/**
 * Years a cursor's time may fall in: JavaScript dates reach far beyond PostgreSQL's timestamps
 * (year +275760, negative years), and such a value must be a 400, not a database error.
 */
const firstYear = 1970;
const lastYear = 9999;

/** The position a cursor names, or null when it is not a cursor this API made. */
export function decodeCursor(cursor: string): PagePosition | null {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof createdAt !== 'string') return null;
    const year = new Date(createdAt).getUTCFullYear();
    if (Number.isNaN(year) || year < firstYear || year > lastYear) return null;
    if (typeof id !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null;
    return { createdAt, id };
  } catch {
    return null;
  }
}

/** The query of every keyset-paginated listing: `limit` 1–500 (50 by default) and an opaque `cursor`. */
export const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type PageQuery = Static<typeof PageQuery>;
