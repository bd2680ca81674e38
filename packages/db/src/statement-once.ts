import { CompiledQuery } from 'kysely';

/**
 * A statement compiled once, of which one parameter changes from call to call: the ids of a
 * fetch, the rows of an upsert. `compile` is called here once, with a marker where that value
 * goes; each call then reuses the text and the other parameters with its own value there.
 * Built through Kysely on every call, such a statement was compiled hundreds of times a second
 * to the same text, and its garbage was a tenth of all the consumer allocated at 500 changes/s
 * (BENCHMARKS.md, fifth session).
 */
export function statementOnce<T>(compile: (value: T) => CompiledQuery): (value: T) => CompiledQuery {
  const marker = [] as unknown as T;
  const { sql: text, parameters } = compile(marker);
  const at = parameters.indexOf(marker);
  if (at < 0 || parameters.indexOf(marker, at + 1) >= 0) throw new Error('the compiled statement must take the changing value as exactly one parameter');
  return (value) => CompiledQuery.raw(text, parameters.with(at, value));
}
