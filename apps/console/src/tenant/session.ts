/**
 * The tenant's token, kept by the browser in a cookie only the console reads: `__Host-` (this
 * origin only, path /, Secure), HttpOnly (no script can read it), SameSite=Strict (never sent
 * on a request another site starts). It lives no longer than the token.
 */
export const SESSION_COOKIE = '__Host-console-token';

const attributes = 'Path=/; Secure; HttpOnly; SameSite=Strict';

export const sessionCookie = (token: string, maxAgeSeconds: number) => `${SESSION_COOKIE}=${token}; ${attributes}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`;

export const clearedSessionCookie = `${SESSION_COOKIE}=; ${attributes}; Max-Age=0`;

/** The value of cookie `name` in a Cookie header, when it has the shape of a JWT. */
export function sessionToken(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === SESSION_COOKIE && value && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(value)) return value;
  }
  return undefined;
}
