/** Longest subject accepted: every hop that carries one (URL path, cache key, SQL) fits it. */
export const MAX_SUBJECT_LENGTH = 128;

const controlCharacter = /\p{Cc}/u;

/**
 * The one rule for a token's `sub`, applied at every edge that takes one: 1–128 UTF-16 units,
 * well-formed Unicode, no control character (PostgreSQL text cannot hold NUL), and never the
 * dot segments `.` / `..`, which a URL path would resolve instead of carrying.
 */
export function isSubject(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_SUBJECT_LENGTH &&
    value.isWellFormed() &&
    !controlCharacter.test(value) &&
    value !== '.' &&
    value !== '..'
  );
}
