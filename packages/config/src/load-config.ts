import type { Static, TObject } from 'typebox';
import Value from 'typebox/value';
import { ConfigError } from './errors.ts';

/**
 * Validates `env` against `schema` (string values are converted, defaults applied) and returns a
 * frozen, typed result. Throws one ConfigError that names every missing or invalid variable.
 */
export function loadConfig<T extends TObject>(schema: T, env: NodeJS.ProcessEnv = process.env): Readonly<Static<T>> {
  const known: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key];
    if (raw !== undefined && raw !== '') known[key] = raw;
  }
  const value = Value.Default(schema, Value.Convert(schema, known));
  const problems = [...Value.Errors(schema, value)].flatMap((error) => {
    if (error.keyword === 'required') {
      const missing = (error.params as { requiredProperties: string[] }).requiredProperties;
      return missing.map((name) => `${name} is required`);
    }
    const name = error.instancePath.replace(/^\//, '');
    return [`${name}=${JSON.stringify(env[name])} ${error.message}`];
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(value as Static<T>);
}
