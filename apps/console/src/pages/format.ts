const numbers = new Intl.NumberFormat('en-GB');

/** 1234 → "1,234"; with `atLeast`, "1,234+". */
export const count = (value: number, atLeast = false): string => `${numbers.format(value)}${atLeast ? '+' : ''}`;

/** A duration in words a person reads at a glance: "0.4 s", "12 s", "3 min", "2 h 5 min". */
export function age(seconds: number): string {
  if (seconds < 10) return `${Math.max(0, seconds).toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
  const hours = Math.floor(seconds / 3_600);
  return `${hours} h ${Math.round((seconds - hours * 3_600) / 60)} min`;
}

/** An instant as UTC date and time to the second: "2026-11-27 01:02:03". */
export const utc = (value: string | Date): string => new Date(value).toISOString().slice(0, 19).replace('T', ' ');

/** How long ago `value` was, from `now`. */
export const ago = (value: string | Date, now: Date): string => `${age((now.getTime() - new Date(value).getTime()) / 1_000)} ago`;
