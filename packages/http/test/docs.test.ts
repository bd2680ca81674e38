import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import helmet from '@fastify/helmet';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { createHttpsServer } from '../src/index.ts';

const certs = fileURLToPath(new URL('../../../certs/', import.meta.url));
const https = { key: readFileSync(`${certs}source.key`), cert: readFileSync(`${certs}source.crt`) };

let app: Awaited<ReturnType<typeof createHttpsServer>> | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A listener as the apps build one: helmet registered after createHttpsServer, then a route. */
async function build() {
  app = await createHttpsServer({ listener: 'public', logger: pino({ level: 'silent' }), https, openapi: { title: 'test API', description: 'for the tests' } });
  await app.register(helmet);
  app.get('/things/:id', { schema: { params: Type.Object({ id: Type.String() }) } }, async (request) => ({ id: request.params.id }));
  return app;
}

/** The directives of a Content-Security-Policy header, by name. */
function directives(header: unknown): Map<string, string[]> {
  expect(typeof header).toBe('string');
  return new Map(
    String(header)
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name = '', ...values]) => [name, values]),
  );
}

describe('/docs', () => {
  it('answers Swagger UI whose every asset is served by the listener itself', async () => {
    const server = await build();
    const page = await server.inject({ url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<div id="swagger-ui">');

    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map(([, url = '']) => url);
    expect(assets.length).toBeGreaterThanOrEqual(5);
    for (const asset of assets) {
      expect(asset).toMatch(/^\/docs\/static\//);
      const response = await server.inject({ url: asset });
      expect(response.statusCode, asset).toBe(200);
      expect(response.body.length, asset).toBeGreaterThan(0);
    }
    // The page loads its document from this listener, and asks no validator elsewhere.
    const initializer = await server.inject({ url: '/docs/static/swagger-initializer.js' });
    expect(initializer.body).toContain("resolveUrl('./json')");
    expect(initializer.body).toContain('validatorUrl: null');
  });

  it('still serves the OpenAPI document at /docs/json, without the /docs routes in it', async () => {
    const server = await build();
    const response = await server.inject({ url: '/docs/json' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(response.json<{ paths: Record<string, unknown> }>().paths)).toEqual(['/things/{id}']);
  });

  it('limits /docs to its own origin and leaves the API routes under helmet policy', async () => {
    const server = await build();
    const api = await server.inject({ url: '/things/1' });
    const helmetDefault = directives(api.headers['content-security-policy']);
    expect(helmetDefault.get('script-src')).toEqual(["'self'"]);

    for (const url of ['/docs', '/docs/static/swagger-ui-bundle.js', '/docs/json']) {
      const policy = directives((await server.inject({ url })).headers['content-security-policy']);
      expect(policy.get('default-src'), url).toEqual(["'self'"]);
      expect(policy.get('script-src'), url).toEqual(["'self'"]);
      expect(policy.get('connect-src'), url).toEqual(["'self'"]);
      expect(policy.get('object-src'), url).toEqual(["'none'"]);
      // No source beyond the listener: no scheme, host or wildcard anywhere in the policy.
      for (const [name, values] of policy) {
        for (const value of values) expect(value, `${url} ${name}`).toMatch(/^('self'|'none'|'unsafe-inline'|data:)$/);
      }
      // Nothing allowed here that helmet's default does not allow for the API.
      for (const [name, values] of policy) {
        const allowedByHelmet = helmetDefault.get(name) ?? helmetDefault.get('default-src') ?? [];
        for (const value of values) expect(allowedByHelmet, `${url} ${name} ${value}`).toContain(value);
      }
    }
  });
});
