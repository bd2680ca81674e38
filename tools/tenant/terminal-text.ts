// Control and format characters, line separators and lone surrogates: what can move the
// cursor, recolour or rewrite a terminal line, or reorder text (bidi overrides such as U+202E).
const unsafe = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(char: string): string {
  const code = char.codePointAt(0) as number;
  if (named[char]) return named[char];
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

/**
 * `text` with every character that could act on a terminal written out visibly (`\x1b`,
 * `\u202e`), for printing what a Kafka message or its headers say. Idempotent, so text can
 * be escaped where it is laid out and again where it is printed.
 */
export function terminalSafe(text: string): string {
  return text.replace(unsafe, escapeOne);
}

/** `terminalSafe` for each line of `text`, keeping the line breaks. */
export function terminalSafeLines(text: string): string {
  return text.split('\n').map(terminalSafe).join('\n');
}
