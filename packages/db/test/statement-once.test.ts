import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { statementOnce } from '../src/index.ts';

// Compiles only: the driver never runs anything.
const db = new Kysely<unknown>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (kysely) => new PostgresIntrospector(kysely),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

describe('statementOnce', () => {
  it('compiles once and puts each call’s value where the marker was, keeping the other parameters', () => {
    let compiled = 0;
    const statement = statementOnce((ids: string[]) => {
      compiled += 1;
      return sql`select * from tombstones where entity_type = ${'USER'} and id = any(${ids}::uuid[])`.compile(db);
    });
    const first = statement(['a']);
    const second = statement(['b', 'c']);
    expect(compiled).toBe(1);
    expect(first.sql).toBe('select * from tombstones where entity_type = $1 and id = any($2::uuid[])');
    expect(second.sql).toBe(first.sql);
    expect(first.parameters).toEqual(['USER', ['a']]);
    expect(second.parameters).toEqual(['USER', ['b', 'c']]);
  });

  it('refuses a statement that does not take the value as exactly one parameter', () => {
    expect(() => statementOnce((ids: string[]) => sql`select ${ids.length}`.compile(db))).toThrow(/exactly one parameter/);
    expect(() => statementOnce((ids: string[]) => sql`select ${ids}, ${ids}`.compile(db))).toThrow(/exactly one parameter/);
  });
});
