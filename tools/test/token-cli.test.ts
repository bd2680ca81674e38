import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../token.ts', import.meta.url));

async function token(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('npm run token', () => {
  it('prints an access token the apps accept: typ JWT, iat now, a lifetime within the maximum', async () => {
    const { code, stdout } = await token(['--role', 'member', '--ttl', '600']);
    expect(code).toBe(0);
    const jwt = stdout.trim();
    expect(decodeProtectedHeader(jwt)).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    const claims = decodeJwt(jwt);
    expect(claims).toMatchObject({ sub: 'default-admin', role: 'member' });
    expect(claims.exp! - claims.iat!).toBe(600);
    expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(30);
  });

  it('prints its usage for --help, and exits 0', async () => {
    const { code, stdout, stderr } = await token(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: npm run token --/);
    expect(stderr).toBe('');
  });

  it.each([
    ['a ttl beyond JWT_MAX_TOKEN_AGE_S', ['--ttl', '3601'], /--ttl must be at most 3600 seconds/],
    ['ten years', ['--ttl', String(10 * 365 * 86_400)], /--ttl must be at most/],
    ['a ttl that is not a number', ['--ttl', 'soon'], /--ttl must be a positive number/],
    ['an unknown role', ['--role', 'root'], /--role must be one of member, tenant_admin/],
    ['an org that is not a UUID', ['--org', "' OR 1=1"], /--org must be a UUID/],
    ['an unknown option', ['--forever'], /Unknown option/],
    ['an option without its value', ['--ttl'], /argument missing/],
  ])('refuses %s with one line and exit code 2', async (_name, args, message) => {
    const { code, stdout, stderr } = await token(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(message);
  });

  it('takes the maximum from the configuration', async () => {
    expect((await token(['--ttl', '900'], { JWT_MAX_TOKEN_AGE_S: '600' })).code).toBe(2);
    const { code, stdout } = await token([], { JWT_MAX_TOKEN_AGE_S: '600' });
    expect(code).toBe(0);
    const claims = decodeJwt(stdout.trim());
    expect(claims.exp! - claims.iat!).toBe(600);
  });
});
