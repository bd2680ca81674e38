/** Position after the last item of a page: the (created time, id) keyset of that item. */
export interface PagePosition {
  createdAt: string;
  id: string;
}

/** An opaque cursor for `position`. */
export function encodeCursor(createdAt: Date | string, id: string): string {
  return Buffer.from(JSON.stringify([new Date(createdAt).toISOString(), id])).toString('base64url');
}

/** The position a cursor names, or null when it is not a cursor this API made. */
export function decodeCursor(cursor: string): PagePosition | null {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt))) return null;
    if (typeof id !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null;
    return { createdAt, id };
  } catch {
    return null;
  }
}
