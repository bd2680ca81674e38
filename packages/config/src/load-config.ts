import type { Static, TObject, TSchema } from 'typebox';
import Value from 'typebox/value';
import { ConfigError } from './errors.ts';

/**
 * Validates `env` against `schema` (string values are converted, defaults applied) and returns a
 * frozen, typed result. Throws one ConfigError that names every missing or invalid variable.
 */
export function loadConfig<T extends TObject>(schema: T, env: NodeJS.ProcessEnv = process.env): Readonly<Static<T>> {
  const value: Record<string, unknown> = {};
  const problems: string[] = [];
  const required = new Set(schema.required ?? []);
  for (const [name, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      const fallback = Value.Default(property, undefined);
      if (fallback !== undefined) value[name] = fallback;
      else if (required.has(name)) problems.push(`${name} is required`);
      continue;
    }
    const converted = Value.Convert(property, raw);
    if (Value.Check(property, converted)) value[name] = converted;
    else problems.push(`${name}=${JSON.stringify(raw)}: ${describe(property)}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(value as Static<T>);
}

/** What a valid value looks like, in words. */
function describe(schema: TSchema): string {
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.anyOf)) return `must be one of ${(s.anyOf as Array<{ const?: unknown }>).map((option) => option.const).join(', ')}`;
  if (s.type === 'integer') return `must be an integer from ${s.minimum ?? '-∞'} to ${s.maximum ?? '∞'}`;
  if (typeof s.pattern === 'string') return `must match ${s.pattern}`;
  if (typeof s.minLength === 'number') return `must be at least ${s.minLength} characters`;
  return 'is not valid';
}

/**
 * Runs `load` and returns its config; on a ConfigError prints the message, prefixed with the
 * app's name, and exits with status 1. For an app's entry point.
 */
export function configOrExit<T>(app: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${app}: ${error.message}`);
    process.exit(1);
  }
}
